#!/usr/bin/env python3
"""Development loop for kernels/attention, independent of pawl's Rust code.

    attention-dev.py build [--cache DIR]   compile every variant to an sm_90 cubin with NVRTC (ctypes, no
                                          GPU needed) and print registers, spills and shared memory
    attention-dev.py run [--cache DIR]     on a GPU: check, then time; a table on stdout, JSON under $OUT

`run` compiles what the cache lacks, so `build` beforehand (here, without a GPU) only saves device time.
Checks: flash_fwd and reference.cu against torch's math backend in fp32 on fresh randn inputs, outputs
poisoned with NaN first, for every (D, causal, dtype) and sequence lengths with tails; every tune variant
once more. Timing: CUDA events around each launch, the stream held by torch.cuda._sleep while a batch is
enqueued, L2 flushed before each sample by a read sweep over 256 MiB, warm-up by time, median.
"""

import argparse
import ctypes
import ctypes.util
import glob
import hashlib
import json
import math
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "kernels", "attention")
ARCH = "sm_90"

# Tune variants timed at fp16: (BLOCK_M, BLOCK_N, NUM_WARPS, NUM_STAGES). The first is the default of
# examples/attention/pawl.toml, and the one checked at every (causal, dtype, S).
TUNE = {
    64: [(128, 64, 4, 2), (128, 64, 4, 3), (128, 64, 8, 2), (64, 64, 4, 2)],
    128: [(128, 64, 4, 2), (128, 32, 4, 2), (128, 32, 4, 3), (128, 64, 8, 2), (128, 128, 8, 2)],
}
CHECK_SEQ = [1000, 128, 77]
CHECK_B, CHECK_H = 2, 3
TIMED = [  # (B, H, S, D, causal)
    (32, 8, 512, 64, False),
    (4, 16, 2048, 64, False),
    (4, 16, 2048, 128, False),
    (4, 16, 8192, 64, False),
    (4, 16, 8192, 64, True),
    (4, 16, 8192, 128, False),
    (4, 16, 8192, 128, True),
]
TOL = {"f16": 5e-3, "bf16": 1e-2}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- NVRTC through ctypes


def find_nvrtc():
    """libnvrtc: $NVRTC_LIB, the nvidia-cuda-nvrtc wheel, the system's, a CUDA toolkit's."""
    candidates = [os.environ.get("NVRTC_LIB", "")]
    for path in sys.path:
        candidates += sorted(glob.glob(os.path.join(path, "nvidia", "cu1*", "lib", "libnvrtc.so.*")))
        candidates += sorted(glob.glob(os.path.join(path, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so.*")))
    found = ctypes.util.find_library("nvrtc")
    candidates += [found or ""]
    candidates += sorted(glob.glob("/usr/local/cuda*/lib64/libnvrtc.so*"))
    for c in candidates:
        if c and os.path.exists(c) and "builtins" not in c and "alt" not in os.path.basename(c):
            try:
                # NVRTC dlopens its builtins by soname; load them first from the same folder.
                for b in sorted(glob.glob(os.path.join(os.path.dirname(c), "libnvrtc-builtins.so*"))):
                    try:
                        ctypes.CDLL(b, mode=ctypes.RTLD_GLOBAL)
                        break
                    except OSError:
                        continue
                return ctypes.CDLL(c), c
            except OSError:
                continue
    sys.exit("attention-dev: libnvrtc not found; set NVRTC_LIB or pip install nvidia-cuda-nvrtc")


class Nvrtc:
    def __init__(self):
        self.lib, self.path = find_nvrtc()
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
        self.version = f"{major.value}.{minor.value}"

    def compile(self, source, name, options):
        """Returns (cubin bytes or None, log text)."""
        lib = self.lib
        prog = ctypes.c_void_p()
        rc = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None)
        if rc != 0:
            return None, f"nvrtcCreateProgram failed ({rc})"
        opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        rc = lib.nvrtcCompileProgram(prog, len(options), opts)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, buf)
        text = buf.value.decode(errors="replace")
        cubin = None
        if rc == 0:
            lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
            out = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetCUBIN(prog, out)
            cubin = out.raw
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
        return cubin, text


def resources(log_text):
    """Registers, spill bytes and stack from ptxas -v output in the NVRTC log."""
    import re

    regs = re.search(r"Used (\d+) registers", log_text)
    spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log_text)
    stack = re.search(r"(\d+) bytes stack frame", log_text)
    return {
        "registers": int(regs.group(1)) if regs else None,
        "spill_stores": int(spill.group(1)) if spill else None,
        "spill_loads": int(spill.group(2)) if spill else None,
        "stack": int(stack.group(1)) if stack else None,
    }


class Builder:
    """Compiles (file, defines) to cubin files in a cache keyed by source, options and NVRTC version."""

    def __init__(self, cache):
        self.cache = cache
        os.makedirs(cache, exist_ok=True)
        self.nvrtc = Nvrtc()
        log(f"nvrtc {self.nvrtc.version} from {self.nvrtc.path}")

    def build(self, file, defines):
        source = open(os.path.join(KERNELS, file)).read()
        options = [f"-arch={ARCH}", "-std=c++17", "--ptxas-options=-v"]
        options += [f"-D{k}={int(v) if isinstance(v, bool) else v}" for k, v in sorted(defines.items())]
        key = hashlib.sha256("\0".join([source, self.nvrtc.version] + options).encode()).hexdigest()[:20]
        cubin_path = os.path.join(self.cache, key + ".cubin")
        log_path = os.path.join(self.cache, key + ".log")
        if not os.path.exists(cubin_path):
            t0 = time.time()
            cubin, text = self.nvrtc.compile(source, file, options)
            if cubin is None:
                sys.exit(f"attention-dev: {file} {defines} does not compile:\n{text}")
            with open(log_path, "w") as f:
                f.write(text)
            with open(cubin_path + ".tmp", "wb") as f:
                f.write(cubin)
            os.replace(cubin_path + ".tmp", cubin_path)
            log(f"compiled {file} {defines} in {time.time() - t0:.1f} s")
        return cubin_path, resources(open(log_path).read())


def flash_defines(D, causal, dtype, tune):
    bm, bn, nw, ns = tune
    return {"HEAD_DIM": D, "IS_CAUSAL": causal, "USE_BF16": dtype == "bf16",
            "BLOCK_M": bm, "BLOCK_N": bn, "NUM_WARPS": nw, "NUM_STAGES": ns}


def flash_smem(D, tune):
    bm, bn, nw, ns = tune
    return (bm + 2 * ns * bn) * D * 2


def all_builds():
    """Every (file, defines) the run needs, so that `build` fills the same cache `run` reads."""
    builds = []
    for D in (64, 128):
        for causal in (False, True):
            for dtype in ("f16", "bf16"):
                builds.append(("reference.cu", {"HEAD_DIM": D, "IS_CAUSAL": causal, "USE_BF16": dtype == "bf16"}))
                tunes = TUNE[D] if dtype == "f16" else TUNE[D][:1]
                for tune in tunes:
                    builds.append(("flash_fwd.cu", flash_defines(D, causal, dtype, tune)))
    return builds


def cmd_build(args):
    builder = Builder(args.cache)
    for file, defines in all_builds():
        _, res = builder.build(file, defines)
        print(f"{file:14} {json.dumps(defines):110} {res}")


# ---------------------------------------------------------------- on the GPU


class Kernels:
    def __init__(self, builder):
        import cupy

        self.cupy = cupy
        self.builder = builder
        self.loaded = {}

    def get(self, file, entry, defines, smem=0):
        key = (file, tuple(sorted(defines.items())))
        if key not in self.loaded:
            path, res = self.builder.build(file, defines)
            fn = self.cupy.RawModule(path=path).get_function(entry)
            if smem > 48 * 1024:
                fn.max_dynamic_shared_size_bytes = smem
            self.loaded[key] = (fn, res)
        return self.loaded[key]


def launcher(kernels, torch, which, B, H, S, D, causal, dtype, tune=None):
    """A function (q, k, v, o) -> None launching flash_fwd or the reference on the current stream."""
    import numpy as np

    scale = np.float32(1.0 / math.sqrt(D))
    if which == "ref":
        fn, res = kernels.get("reference.cu", "attention_ref",
                              {"HEAD_DIM": D, "IS_CAUSAL": causal, "USE_BF16": dtype == "bf16"})
        grid, block, smem = (S, H, B), (128,), 0
    else:
        smem = flash_smem(D, tune)
        fn, res = kernels.get("flash_fwd.cu", "flash_fwd", flash_defines(D, causal, dtype, tune), smem)
        grid, block = ((S + tune[0] - 1) // tune[0], H, B), (tune[2] * 32,)

    def run(q, k, v, o):
        ptrs = [np.uint64(t.data_ptr()) for t in (q, k, v, o)]
        fn(grid, block, (*ptrs, np.int32(S), scale), shared_mem=smem)

    return run, res


def errors(torch, out, truth, tol):
    out = out.float()
    diff = (out - truth).abs()
    finite = torch.isfinite(out)
    return {
        "norm_rel": float((torch.where(finite, out, 0.0) - truth).norm() / truth.norm()),
        "max_abs": float(torch.where(finite, diff, 0.0).max()),
        "mismatches": int((~(diff <= tol + tol * truth.abs())).sum()),
        "non_finite": int((~finite).sum()),
    }


def sdpa(torch, backend, q, k, v, causal):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    names = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
    with sdpa_kernel(names[backend]):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


def check_case(torch, kernels, B, H, S, D, causal, dtype, tunes, seed):
    tdtype = {"f16": torch.float16, "bf16": torch.bfloat16}[dtype]
    gen = torch.Generator(device="cuda").manual_seed(seed)
    q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=tdtype, generator=gen) for _ in range(3))
    truth = sdpa(torch, "math", q.float(), k.float(), v.float(), causal)
    results = []
    outs = {}
    for which, tune in [("ref", None)] + [("flash", t) for t in tunes]:
        o = torch.full_like(q, float("nan"))
        run, _ = launcher(kernels, torch, which, B, H, S, D, causal, dtype, tune)
        run(q, k, v, o)
        torch.cuda.synchronize()
        outs[(which, tune)] = o
        err = errors(torch, o, truth, TOL[dtype])
        ok = err["mismatches"] == 0 and err["non_finite"] == 0
        results.append({"B": B, "H": H, "S": S, "D": D, "causal": causal, "dtype": dtype, "kernel": which,
                        "tune": tune, "vs": "torch-math-fp32", "ok": ok, **err})
    ref = outs[("ref", None)].float()
    for (which, tune), o in outs.items():
        if which == "flash":
            err = errors(torch, o, ref, TOL[dtype])
            results.append({"B": B, "H": H, "S": S, "D": D, "causal": causal, "dtype": dtype, "kernel": which,
                            "tune": tune, "vs": "reference.cu",
                            "ok": err["mismatches"] == 0 and err["non_finite"] == 0, **err})
    return results


class Timer:
    """Event-timed samples with the GPU queue kept ahead of the host and L2 flushed by a read sweep."""

    def __init__(self, torch):
        self.torch = torch
        self.flush_buf = torch.randn(64 * 1024 * 1024, device="cuda")  # 256 MiB of fp32, > 2x L2
        self.sink = torch.empty((), device="cuda")

    def flush(self):
        self.torch.sum(self.flush_buf, dim=0, out=self.sink)

    def measure(self, fn, warmup_s=0.1, min_samples=20, max_samples=200, max_s=1.0, batch=10):
        torch = self.torch
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < warmup_s:
            fn()
            torch.cuda.synchronize()
        samples = []
        t0 = time.perf_counter()
        while len(samples) < max_samples and (len(samples) < min_samples or time.perf_counter() - t0 < max_s):
            events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                      for _ in range(batch)]
            torch.cuda._sleep(2_000_000)  # ~1 ms hold: the batch is enqueued before the GPU reaches it
            for start, end in events:
                self.flush()
                start.record()
                fn()
                end.record()
            torch.cuda.synchronize()
            samples += [start.elapsed_time(end) for start, end in events]
        return statistics.median(samples), samples


def cmd_run(args):
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out_dir = os.environ.get("OUT", "")
    builder = Builder(args.cache)
    kernels = Kernels(builder)
    props = torch.cuda.get_device_properties(0)
    log(f"device {props.name}, {props.multi_processor_count} SMs, torch {torch.__version__}")
    report = {"device": props.name, "torch": torch.__version__, "nvrtc": builder.nvrtc.version,
              "checks": [], "timings": [], "resources": {}}

    # Correctness first: every (D, causal, dtype, S) with the default tune, every tune once more.
    seed = int(time.time())
    failures = 0
    for D in (64, 128):
        for causal in (False, True):
            for dtype in ("f16", "bf16"):
                for i, S in enumerate(CHECK_SEQ):
                    tunes = TUNE[D] if (dtype == "f16" and i == 0) else TUNE[D][:1]
                    seed += 1
                    for r in check_case(torch, kernels, CHECK_B, CHECK_H, S, D, causal, dtype, tunes, seed):
                        report["checks"].append(r)
                        if not r["ok"]:
                            failures += 1
                            log("WRONG", json.dumps(r))
    n = len(report["checks"])
    print(f"checks: {n - failures}/{n} ok (flash and reference vs torch math fp32, flash vs reference)")
    worst = {}
    for r in report["checks"]:
        key = (r["kernel"], r["dtype"], r["vs"])
        worst[key] = max(worst.get(key, 0.0), r["norm_rel"])
    for key, value in sorted(worst.items()):
        print(f"  worst norm-rel error {key[0]:5} {key[1]:4} vs {key[2]:16}: {value:.2e}")
    if failures and not args.time_anyway:
        _write(out_dir, report)
        sys.exit("attention-dev: correctness failures; not timing")

    # Timing at the target sizes, fp16.
    timer = Timer(torch)
    rows = []
    for B, H, S, D, causal in TIMED:
        gen = torch.Generator(device="cuda").manual_seed(seed)
        q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.float16, generator=gen) for _ in range(3))
        flops = 4 * B * H * S * S * D / (2 if causal else 1)
        line = {"B": B, "H": H, "S": S, "D": D, "causal": causal, "flops": flops, "ms": {}}
        torch_out = {}
        for backend in ("flash", "cudnn"):
            try:
                sdpa(torch, backend, q, k, v, causal)
                ms, _ = timer.measure(lambda: sdpa(torch, backend, q, k, v, causal))
                line["ms"][backend] = ms
                torch_out[backend] = sdpa(torch, backend, q, k, v, causal)
            except RuntimeError as e:
                log(f"torch {backend} failed at {B, H, S, D, causal}: {e}")
        best = None
        for tune in TUNE[D]:
            o = torch.full_like(q, float("nan"))
            run, res = launcher(kernels, torch, "flash", B, H, S, D, causal, "f16", tune)
            report["resources"][f"D{D} causal={causal} {tune}"] = res
            ms, _ = timer.measure(lambda: run(q, k, v, o))
            name = "flash_fwd " + "/".join(map(str, tune))
            line["ms"][name] = ms
            if "flash" in torch_out:
                err = errors(torch, o, torch_out["flash"].float(), TOL["f16"])
                line.setdefault("vs_torch_flash", {})[name] = err
                if err["mismatches"] or err["non_finite"]:
                    log("MISMATCH vs torch flash", name, (B, H, S, D, causal), err)
            if best is None or ms < line["ms"][best]:
                best = name
        line["best"] = best
        rows.append(line)
        report["timings"].append(line)
        log(json.dumps(line))

    _write(out_dir, report)
    print()
    print(f"{'case':28} {'torch flash':>16} {'cudnn':>16} {'flash_fwd best':>16} {'x flash':>8}  best tune")
    for r in rows:
        case = f"B{r['B']} H{r['H']} S{r['S']} D{r['D']}" + (" causal" if r["causal"] else "")

        def cell(name):
            ms = r["ms"].get(name)
            return f"{ms:.3f}ms {r['flops'] / ms / 1e9:4.0f}T" if ms else "-"

        ratio = r["ms"]["flash"] / r["ms"][r["best"]] if "flash" in r["ms"] else float("nan")
        print(f"{case:28} {cell('flash'):>16} {cell('cudnn'):>16} {cell(r['best']):>16} {ratio:8.2f}  {r['best']}")
    print()
    for key, res in report["resources"].items():
        print(f"  {key:40} regs {res['registers']} spills {res['spill_stores']}/{res['spill_loads']}")
    for r in rows:
        print("  all tunes", f"S{r['S']} D{r['D']} c={int(r['causal'])}",
              " ".join(f"{k.split()[-1]}={v:.3f}" for k, v in r["ms"].items() if k.startswith("flash_fwd")))


def _write(out_dir, report):
    if out_dir:
        with open(os.path.join(out_dir, "attention-dev.json"), "w") as f:
            json.dump(report, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "run"])
    parser.add_argument("--cache", default="/tmp/attention-dev-cache",
                        help="cubin cache folder (default: /tmp/attention-dev-cache)")
    parser.add_argument("--time-anyway", action="store_true", help="time even when a check failed")
    args = parser.parse_args()
    {"build": cmd_build, "run": cmd_run}[args.command](args)


if __name__ == "__main__":
    main()
