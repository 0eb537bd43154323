#!/usr/bin/env python3
"""Checks adapters/triton_attention.py on the CPU in Triton's interpreter (TRITON_INTERPRET=1) against a
float64 reference, with numpy arrays behind a small tensor stand-in: no GPU and no torch needed.

    pip install triton numpy && python3 scripts/triton-attention-check.py

f16 only (numpy has no bf16); the device run checks both dtypes against PyTorch's fp32 math backend."""
import os, sys, math
os.environ["TRITON_INTERPRET"] = "1"
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "adapters"))
import triton_attention as ta

class Dt:
    def __init__(self, np_dtype): self.name = {np.dtype(np.float16): "float16", np.dtype(np.float32): "float32"}[np.dtype(np_dtype)]
    def __str__(self): return "torch." + self.name
    def __repr__(self): return str(self)
    def __eq__(self, o): return str(self) == str(o)
    def __hash__(self): return hash(str(self))
    itemsize = 2

class T:
    """numpy array dressed as the tensor the interpreter expects."""
    def __init__(self, a): self.a = a; self.dtype = Dt(a.dtype); self.shape = a.shape
    def data_ptr(self): return self.a.ctypes.data
    def untyped_storage(self): return self
    def cpu(self): return self
    def copy_(self, other): pass
    def new_empty(self, *a, **k): return self
    def set_(self, *a): return self
    def storage_offset(self): return 0
    def size(self): return self.a.shape
    def stride(self, i=None):
        s = tuple(x // self.a.itemsize for x in self.a.strides)
        return s if i is None else s[i]

def reference(q, k, v, causal):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if causal:
        S = q.shape[2]
        s = np.where(np.tril(np.ones((S, S), bool)), s, -np.inf)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s); p /= p.sum(-1, keepdims=True)
    return p @ v

worst = 0.0
for (B, H, S, D, causal) in [(1, 2, 77, 64, False), (1, 2, 77, 64, True), (1, 1, 200, 128, True),
                              (2, 1, 130, 128, False), (1, 1, 70, 256, True), (1, 1, 64, 16, False)]:
    rng = np.random.default_rng(S + D)
    q, k, v = (rng.standard_normal((B, H, S, D)).astype(np.float16) for _ in range(3))
    o = np.full_like(q, np.nan)
    bm, bn, _, _ = ta.CONFIGS[D]
    ta._attention_fwd[(math.ceil(S / bm), B * H)](
        T(q), T(k), T(v), T(o), S, (D ** -0.5) * ta.LOG2E,
        *(x // 2 for x in q.strides[:3]), *(x // 2 for x in k.strides[:3]), *(x // 2 for x in v.strides[:3]),
        *(x // 2 for x in o.strides[:3]), H=H, HEAD_DIM=D, BLOCK_M=bm, BLOCK_N=bn, CAUSAL=causal)
    truth = reference(q, k, v, causal)
    err = np.abs(o.astype(np.float64) - truth)
    rel = np.linalg.norm(o.astype(np.float64) - truth) / np.linalg.norm(truth)
    ok = np.isfinite(o).all() and (err <= 5e-3 + 5e-3 * np.abs(truth)).all()
    worst = max(worst, rel)
    print(f"B={B} H={H} S={S} D={D} causal={causal}: max abs err {err.max():.2e}, norm rel {rel:.2e}, {'ok' if ok else 'WRONG'}")
    assert ok
print(f"all match; worst norm-relative error {worst:.2e}")
