#!/usr/bin/env python3
"""pawl harness for torch.nn.functional.scaled_dot_product_attention (a `kind = "command"` bench).

    python3 torch_sdpa.py [--backend flash|cudnn|efficient|math]

Speaks pawl's harness protocol (docs/harness.md) through pawl_harness.py: pawl's engine decides warm-up
and when to stop; this adapter prepares inputs, checks, and times single launches on request.

Params: B, H, S, D (ints), causal (bool), dtype ("f16" | "bf16"), and optionally backend, which wins
over --backend. Inputs q, k, v are [B, H, S, D], randn from the settings' seed.

The check compares the backend's output with the math backend in fp32 on the same inputs (elementwise
|out - ref| <= atol + rtol * |ref|, rtol = atol = 5e-3 for f16 and 1e-2 for bf16) and reports the figures
as the harness's own comparison. SDPA allocates its own output, so it cannot be poisoned directly: a
NaN-filled block of the output's size is freed just before the call, which the caching allocator hands
back, so unwritten elements show up as non-finite. A backend that cannot run a case fails that case.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attention_check  # noqa: E402
from pawl_harness import CaseError, TorchTimer, serve  # noqa: E402

BACKENDS = ("flash", "cudnn", "efficient", "math")
TOLERANCE = attention_check.TOLERANCE


class Sdpa:
    def __init__(self, default_backend):
        self.default_backend = default_backend
        self.torch = None

    def timer(self):
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        from torch.nn.attention import SDPBackend, sdpa_kernel

        self.torch = torch
        self.sdpa_kernel = sdpa_kernel
        self.backends = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
                         "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
        torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 reference must be fp32
        torch.backends.cudnn.allow_tf32 = False
        return TorchTimer(torch)

    def run(self, backend, q, k, v, causal):
        with self.sdpa_kernel(self.backends[backend]):
            return self.torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def prepare(self, request):
        torch = self.torch
        params = request["params"]
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
        gen = torch.Generator(device="cuda").manual_seed(int(request["settings"]["seed"]))
        q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=tdtype, generator=gen) for _ in range(3))
        return {"backend": backend, "q": q, "k": k, "v": v, "causal": causal, "dtype": dtype}

    def check(self, s):
        torch = self.torch
        truth = attention_check.reference(torch, s["q"], s["k"], s["v"], s["causal"])
        poison = torch.full_like(s["q"], float("nan"))
        del poison  # its block goes back to the caching allocator, which gives it to SDPA's output next
        try:
            out = self.run(s["backend"], s["q"], s["k"], s["v"], s["causal"]).float()
        except RuntimeError as e:  # "No available kernel": this backend does not take this case
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CaseError(f"torch SDPA backend `{s['backend']}` cannot run this case: {first}") from None
        torch.cuda.synchronize()
        return attention_check.correctness(torch, out, truth, s["dtype"])

    def launch(self, s):
        self.run(s["backend"], s["q"], s["k"], s["v"], s["causal"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=BACKENDS, default="flash",
                        help="SDPA backend when a case's params name none (default: flash)")
    adapter = Sdpa(parser.parse_args().backend)
    serve("torch_sdpa", adapter.prepare, adapter.check, adapter.launch, adapter.timer)


if __name__ == "__main__":
    main()
