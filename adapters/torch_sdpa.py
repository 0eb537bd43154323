#!/usr/bin/env python3
"""pawl harness for torch.nn.functional.scaled_dot_product_attention (a `kind = "command"` bench).

    python3 torch_sdpa.py [--backend flash|cudnn|efficient|math]

Protocol (crates/pawl-core/src/harness.rs): one JSON request per line on stdin, {"case", "bench",
"params", "flops", "bytes", "settings"}; one JSON answer per case on stdout, {"case", "samples_ns",
"flops", "bytes", "error", "status", "correctness"}, flushed as each case ends. Logs go to stderr.

Params: B, H, S, D (ints), causal (bool), dtype ("f16" | "bf16"), and optionally backend, which wins
over --backend. Inputs q, k, v are [B, H, S, D], randn from the settings' seed.

Each case is checked before it is timed: the backend's output against the math backend in fp32 on the
same inputs (elementwise |out - ref| <= atol + rtol * |ref|, rtol = atol = 5e-3 for f16 and 1e-2 for
bf16). A mismatch answers status "wrong" with the error figures and is not timed. SDPA allocates its own
output, so it cannot be poisoned directly: a NaN-filled block of the output's size is freed just before
the call, which the caching allocator hands back, so unwritten elements show up as non-finite.

Timing: warm-up for settings.warmup_ms, then samples, each enqueued while the stream is held by
torch.cuda._sleep, so launch latency stays outside the events; each sample is an L2 flush by a read
sweep (a sum over max(256 MiB, 2 x L2) of fp32) followed by an event pair around the SDPA call. Sampling
stops when the 95% confidence interval of the median, from order statistics, is within
±settings.target_rel_ci of it (and at least min_samples were taken), or at max_samples or max_time_s.
A backend that cannot run a case answers an error for that case; the process goes on.
"""

import argparse
import json
import math
import sys
import time

BACKENDS = ("flash", "cudnn", "efficient", "math")
TOLERANCE = {"f16": 5e-3, "bf16": 1e-2}
DEFAULT_SETTINGS = {"target_rel_ci": 0.005, "min_samples": 20, "max_samples": 10000, "max_time_s": 5.0,
                    "warmup_ms": 100.0, "warm_cache": False, "timeout_s": 60.0, "seed": 0}
REFERENCE_CHUNK_BYTES = 2 << 30  # fp32 score matrices of the math reference, per chunk of heads


def log(message):
    print(f"torch_sdpa: {message}", file=sys.stderr, flush=True)


def answer(case, **fields):
    line = {"case": case, "samples_ns": [], "flops": None, "bytes": None, "error": None}
    line.update(fields)
    print(json.dumps(line), flush=True)


class CaseError(Exception):
    """A case that cannot be measured; the message is the answer's error."""


def median_ci(sorted_samples, z=1.959964):
    """95% confidence interval of the median from order statistics.

    Distribution-free: the ranks n/2 -+ z·sqrt(n)/2 (normal approximation to the binomial(n, 1/2)
    count of samples below the median), widened outward to whole ranks. W. J. Conover, Practical
    Nonparametric Statistics, 3rd ed. (1999), §3.2, "confidence interval for a quantile".
    """
    n = len(sorted_samples)
    half = z * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half) - 1)
    hi = min(n - 1, math.ceil(n / 2 + half))
    return sorted_samples[lo], sorted_samples[hi]


class Harness:
    def __init__(self, torch, default_backend):
        self.torch = torch
        self.default_backend = default_backend
        from torch.nn.attention import SDPBackend, sdpa_kernel

        self.sdpa_kernel = sdpa_kernel
        self.backends = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
                         "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
        torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 reference must be fp32
        torch.backends.cudnn.allow_tf32 = False
        props = torch.cuda.get_device_properties(0)
        l2 = getattr(props, "L2_cache_size", 50 << 20)
        self.flush_buf = torch.ones(max(256 << 20, 2 * l2) // 4, device="cuda")
        self.flush_sink = torch.empty((), device="cuda")
        log(f"{props.name}, torch {torch.__version__}, flush buffer {self.flush_buf.numel() * 4 >> 20} MiB")

    def sdpa(self, backend, q, k, v, causal):
        with self.sdpa_kernel(self.backends[backend]):
            return self.torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def reference(self, q, k, v, causal):
        """Math backend in fp32, a chunk of (batch, head) pairs at a time to bound its S×S scores."""
        B, H, S, D = q.shape
        qf, kf, vf = (t.reshape(B * H, 1, S, D) for t in (q, k, v))
        out = self.torch.empty(B * H, 1, S, D, device="cuda", dtype=self.torch.float32)
        step = max(1, REFERENCE_CHUNK_BYTES // (S * S * 4))
        for i in range(0, B * H, step):
            sl = slice(i, i + step)
            out[sl] = self.sdpa("math", qf[sl].float(), kf[sl].float(), vf[sl].float(), causal)
        return out.reshape(B, H, S, D)

    def check(self, backend, q, k, v, causal, dtype):
        torch = self.torch
        truth = self.reference(q, k, v, causal)
        poison = torch.full_like(q, float("nan"))
        del poison  # its block goes back to the caching allocator, which gives it to SDPA's output next
        out = self.sdpa(backend, q, k, v, causal).float()
        torch.cuda.synchronize()
        tol = TOLERANCE[dtype]
        finite = torch.isfinite(out)
        diff = torch.where(finite, (out - truth).abs(), torch.zeros_like(out))
        rel = diff / truth.abs().clamp_min(1e-30)
        mismatches = int((~finite | (diff > tol + tol * truth.abs())).sum())
        correctness = {
            "max_abs_error": float(diff.max()),
            "max_rel_error": float(torch.where(truth != 0, rel, torch.zeros_like(rel)).max()),
            "norm_rel_error": float(diff.norm() / truth.norm().clamp_min(1e-30)),
            "mismatches": mismatches,
            "non_finite": int((~finite).sum()),
            "unwritten": 0,  # not observable apart from non_finite (see the module doc)
            "elements": out.numel(),
            "rtol": tol,
            "atol": tol,
        }
        return correctness

    def flush(self):
        self.torch.sum(self.flush_buf, dim=0, out=self.flush_sink)

    def measure(self, fn, settings):
        torch = self.torch
        deadline = time.perf_counter() + settings["warmup_ms"] / 1e3
        fn()
        torch.cuda.synchronize()
        while time.perf_counter() < deadline:
            fn()
            torch.cuda.synchronize()
        samples = []
        batch = 10
        hold_cycles = 2_000_000  # ~1 ms at the H100's boost clock; adapted to the enqueue time below
        start_time = time.perf_counter()
        start_event, end_event = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        while True:
            # One sample per hold, as pawl's own timer does: samples queued deep behind one hold each
            # read about 0.5 us more on the H100 (docs/measurement.md).
            for _ in range(batch):
                torch.cuda._sleep(hold_cycles)
                t0 = time.perf_counter()
                if not settings["warm_cache"]:
                    self.flush()
                start_event.record()
                fn()
                end_event.record()
                enqueue_s = time.perf_counter() - t0
                torch.cuda.synchronize()
                samples.append(start_event.elapsed_time(end_event) * 1e6)
                # Hold the stream 1.5x as long as enqueuing took, assuming a 2 GHz clock (an
                # overestimate only costs idle GPU time outside the events).
                hold_cycles = int(min(max(1.5 * enqueue_s * 2e9, 200_000), 200_000_000))
            n = len(samples)
            ordered = sorted(samples)
            med = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
            lo, hi = median_ci(ordered)
            converged = n >= settings["min_samples"] and (hi - lo) / 2 <= settings["target_rel_ci"] * med
            elapsed = time.perf_counter() - start_time
            if converged or n >= settings["max_samples"] or elapsed >= settings["max_time_s"]:
                return samples[: settings["max_samples"]]
            batch = max(1, min(50, settings["max_samples"] - n))

    def run_case(self, request):
        torch = self.torch
        params = request.get("params", {})
        settings = {**DEFAULT_SETTINGS, **(request.get("settings") or {})}
        backend = params.get("backend", self.default_backend)
        if backend not in BACKENDS:
            raise CaseError(f"unknown backend `{backend}`; expected one of {', '.join(BACKENDS)}")
        try:
            B, H, S, D = (int(params[name]) for name in ("B", "H", "S", "D"))
            causal = bool(params.get("causal", False))
            dtype = str(params.get("dtype", "f16"))
        except (KeyError, TypeError, ValueError) as e:
            raise CaseError(f"params need integers B, H, S, D (got {params}): {e}") from None
        if dtype not in TOLERANCE:
            raise CaseError(f"dtype `{dtype}` is not supported; use f16 or bf16")
        tdtype = {"f16": torch.float16, "bf16": torch.bfloat16}[dtype]
        gen = torch.Generator(device="cuda").manual_seed(int(settings["seed"]))
        q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=tdtype, generator=gen) for _ in range(3))
        try:
            correctness = self.check(backend, q, k, v, causal, dtype)
        except RuntimeError as e:  # "No available kernel": this backend does not take this case
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CaseError(f"torch SDPA backend `{backend}` cannot run this case: {first}") from None
        common = {"flops": request.get("flops"), "bytes": request.get("bytes"), "correctness": correctness}
        if correctness["mismatches"] or correctness["non_finite"]:
            return {**common, "status": "wrong",
                    "error": (f"output differs from the fp32 math reference: {correctness['mismatches']} of "
                              f"{correctness['elements']} elements outside atol = rtol = {correctness['rtol']}, "
                              f"norm-relative error {correctness['norm_rel_error']:.3g}")}
        samples = self.measure(lambda: self.sdpa(backend, q, k, v, causal), settings)
        return {**common, "samples_ns": samples}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=BACKENDS, default="flash",
                        help="SDPA backend when a case's params name none (default: flash)")
    args = parser.parse_args()

    requests = []
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or "case" not in request:
                raise ValueError("not an object with a `case` field")
        except ValueError as e:
            log(f"stdin line {number} is not a request ({e}); skipped")
            continue
        requests.append(request)

    try:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        harness = Harness(torch, args.backend)
    except Exception as e:  # no torch, no GPU: every case fails with the reason, nothing crashes
        for request in requests:
            answer(request["case"], error=f"torch SDPA harness cannot start: {e}")
        return

    for request in requests:
        case = request["case"]
        try:
            answer(case, **harness.run_case(request))
        except CaseError as e:
            answer(case, error=str(e))
        except torch.cuda.OutOfMemoryError as e:
            torch.cuda.empty_cache()
            answer(case, error=f"out of GPU memory: {str(e).splitlines()[0]}")
        except Exception as e:  # a failure of one case must not lose the others' answers
            log(f"case {case} failed: {type(e).__name__}: {e}")
            answer(case, error=f"{type(e).__name__}: {e}")
        finally:
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
