#!/usr/bin/env python3
"""pawl harness for the SOTA attention comparison (examples/sota): one process per implementation family,
each implementation a value of the case's `impl` parameter.

    python3 sota_attention.py --family sdpa        impl: sdpa_flash, sdpa_cudnn, sdpa_efficient, sdpa_math
    python3 sota_attention.py --family triton      impl: triton  (adapters/triton_attention.py, pawl's own)
    python3 sota_attention.py --family flash_attn  impl: flash_attn  (the flash_attn package, when installed)
    python3 sota_attention.py --family xformers    impl: xformers  (xformers.ops.memory_efficient_attention)

Params: B, H, S, D (ints), causal (bool), dtype ("f16" | "bf16"), impl. Inputs q, k, v are [B, H, S, D],
randn from the settings' seed, so every implementation of a configuration sees the same inputs.

Each configuration's inputs and its fp32 reference (attention_check.reference) are computed once and kept
while the cases of that configuration follow one another (the suite declares `impl` last, so they do):
the reference is shared by every implementation of the family. Before timing, each implementation's
output is compared with it (attention_check.correctness); outputs start as NaN where the implementation
takes an output buffer or allocates one from the caching allocator, so unwritten elements show up as
non-finite.

A case the implementation cannot run is answered `unsupported` with the reason (the package is not
installed, its CUDA extension does not load, the backend takes no such size, the math backend would
materialize more than --max-math-gib of scores): pawl records it as skipped, never as a silent gap.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attention_check  # noqa: E402
from pawl_harness import CaseError, TorchTimer, Unsupported, log, serve  # noqa: E402

FAMILIES = {
    "sdpa": ("sdpa_flash", "sdpa_cudnn", "sdpa_efficient", "sdpa_math"),
    "triton": ("triton",),
    "flash_attn": ("flash_attn",),
    "xformers": ("xformers",),
}


def first_line(e):
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


class Family:
    def __init__(self, family, max_math_gib):
        self.family = family
        self.max_math_bytes = max_math_gib * (1 << 30)
        self.torch = None
        self.config = None  # (key, q, k, v, reference)
        self.impl_error = None  # why this family's library cannot run at all, once known

    # -- start --------------------------------------------------------------------------------------------
    def timer(self):
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        self.torch = torch
        versions = [f"torch {torch.__version__}", f"CUDA {torch.version.cuda}",
                    f"cuDNN {torch.backends.cudnn.version()}"]
        log(self.family, ", ".join(versions))
        return TorchTimer(torch)

    def library(self):
        """Imports what the family runs, once; raises Unsupported (every case) when it cannot."""
        if self.impl_error:
            raise Unsupported(self.impl_error)
        try:
            if self.family == "sdpa":
                from torch.nn.attention import SDPBackend, sdpa_kernel

                self.sdpa_kernel = sdpa_kernel
                self.backends = {"sdpa_flash": SDPBackend.FLASH_ATTENTION, "sdpa_cudnn": SDPBackend.CUDNN_ATTENTION,
                                 "sdpa_efficient": SDPBackend.EFFICIENT_ATTENTION, "sdpa_math": SDPBackend.MATH}
            elif self.family == "triton":
                import triton
                import triton_attention

                self.triton_attention = triton_attention
                log(self.family, f"triton {triton.__version__}")
            elif self.family == "flash_attn":
                import flash_attn

                self.flash_attn_func = flash_attn.flash_attn_func
                log(self.family, f"flash_attn {flash_attn.__version__}")
            elif self.family == "xformers":
                import xformers
                import xformers.ops as xops

                self.xops = xops
                log(self.family, f"xformers {xformers.__version__}")
        except Exception as e:  # not installed, or built for another torch/CUDA
            self.impl_error = f"{self.family} is not available here ({first_line(e)})"
            raise Unsupported(self.impl_error) from None

    # -- one case -------------------------------------------------------------------------------------------
    def inputs(self, params, seed):
        """q, k, v and the fp32 reference of a configuration: made once, kept for its next cases."""
        torch = self.torch
        key = tuple(params[n] for n in ("B", "H", "S", "D", "causal", "dtype")) + (seed,)
        if self.config is not None and self.config[0] == key:
            return self.config[1:]
        self.config = None
        torch.cuda.empty_cache()
        B, H, S, D, causal, dtype = key[:6]
        tdtype = {"f16": torch.float16, "bf16": torch.bfloat16}[dtype]
        gen = torch.Generator(device="cuda").manual_seed(seed)
        q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=tdtype, generator=gen) for _ in range(3))
        truth = attention_check.reference(torch, q, k, v, causal)
        self.config = (key, q, k, v, truth)
        return q, k, v, truth

    def prepare(self, request):
        params = request["params"]
        impl = str(params.get("impl", ""))
        if impl not in FAMILIES[self.family]:
            raise CaseError(f"impl `{impl}` is not of family {self.family}; it has {', '.join(FAMILIES[self.family])}")
        try:
            B, H, S, D = (int(params[n]) for n in ("B", "H", "S", "D"))
            causal = bool(params.get("causal", False))
            dtype = str(params.get("dtype", "f16"))
        except (KeyError, TypeError, ValueError) as e:
            raise CaseError(f"params need integers B, H, S, D (got {params}): {e}") from None
        if dtype not in attention_check.TOLERANCE:
            raise CaseError(f"dtype `{dtype}` is not supported; use f16 or bf16")
        self.library()
        if impl == "sdpa_math" and B * H * S * S * 2 > self.max_math_bytes:
            gib = B * H * S * S * 2 / (1 << 30)
            raise Unsupported(f"the math backend would materialize a {gib:.1f} GiB score matrix; this sweep "
                              f"leaves math out above {self.max_math_bytes / (1 << 30):g} GiB (--max-math-gib)")
        if impl == "triton" and D not in self.triton_attention.CONFIGS:
            raise Unsupported(f"pawl's Triton kernel takes head dims {sorted(self.triton_attention.CONFIGS)}, not {D}")
        norm = {"B": B, "H": H, "S": S, "D": D, "causal": causal, "dtype": dtype}
        q, k, v, truth = self.inputs(norm, int(request["settings"]["seed"]))
        state = {"impl": impl, "q": q, "k": k, "v": v, "truth": truth, "causal": causal, "dtype": dtype}
        if impl in ("flash_attn", "xformers"):
            # Both take [B, S, H, D]; the copies are made here, outside the timed launches.
            state["qs"], state["ks"], state["vs"] = (t.transpose(1, 2).contiguous() for t in (q, k, v))
            if impl == "xformers":
                state["bias"] = self.xops.LowerTriangularMask() if causal else None
        if impl == "triton":
            state["out"] = self.torch.empty_like(q)
        return state

    def run(self, s):
        """One forward pass; the output as [B, H, S, D]."""
        impl = s["impl"]
        if impl.startswith("sdpa_"):
            with self.sdpa_kernel(self.backends[impl]):
                return self.torch.nn.functional.scaled_dot_product_attention(s["q"], s["k"], s["v"], is_causal=s["causal"])
        if impl == "triton":
            return self.triton_attention.attention(s["q"], s["k"], s["v"], s["causal"], out=s["out"])
        if impl == "flash_attn":
            return self.flash_attn_func(s["qs"], s["ks"], s["vs"], causal=s["causal"]).transpose(1, 2)
        return self.xops.memory_efficient_attention(s["qs"], s["ks"], s["vs"], attn_bias=s["bias"]).transpose(1, 2)

    def check(self, s):
        torch = self.torch
        if "out" in s:
            s["out"].fill_(float("nan"))
        poison = torch.full_like(s["q"], float("nan"))
        del poison  # its block goes back to the caching allocator, which hands it to the output next
        try:
            out = self.run(s)
            torch.cuda.synchronize()
        except (RuntimeError, NotImplementedError, ValueError) as e:
            # "No available kernel" and the like: the implementation does not take this case.
            if torch.cuda.is_available() and not _sticky(e):
                raise Unsupported(f"{s['impl']} cannot run this case: {first_line(e)}") from None
            raise
        return attention_check.correctness(torch, out, s["truth"], s["dtype"])

    def launch(self, s):
        self.run(s)


def _sticky(e):
    """A CUDA error that leaves the context unusable (an illegal address): not a size the backend refuses."""
    text = str(e)
    return "illegal" in text or ("CUDA error" in text and "launch failure" in text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=sorted(FAMILIES), required=True)
    parser.add_argument("--max-math-gib", type=float, default=2.0,
                        help="largest score matrix (GiB) the math backend is run with (default 2)")
    args = parser.parse_args()
    family = Family(args.family, args.max_math_gib)
    serve(f"sota_attention[{args.family}]", family.prepare, family.check, family.launch, family.timer)


if __name__ == "__main__":
    main()
