"""The reference and the comparison every attention adapter checks its output with: PyTorch's math
backend in fp32 (TF32 off), chunked over (batch, head) pairs to bound its S x S scores, and the
element-by-element comparison |out - ref| <= atol + rtol * |ref| reported as a harness's own
`correctness` (docs/harness.md)."""

REFERENCE_CHUNK_BYTES = 2 << 30  # fp32 score matrices of the reference, per chunk of heads
TOLERANCE = {"f16": 5e-3, "bf16": 1e-2}


def reference(torch, q, k, v, causal):
    """softmax(q k^T / sqrt(D) [causal]) v in fp32, [B, H, S, D] in and out."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 reference must be fp32
    torch.backends.cudnn.allow_tf32 = False
    B, H, S, D = q.shape
    qf, kf, vf = (t.reshape(B * H, 1, S, D) for t in (q, k, v))
    out = torch.empty(B * H, 1, S, D, device=q.device, dtype=torch.float32)
    step = max(1, REFERENCE_CHUNK_BYTES // (S * S * 4))
    with sdpa_kernel(SDPBackend.MATH):
        for i in range(0, B * H, step):
            sl = slice(i, i + step)
            out[sl] = torch.nn.functional.scaled_dot_product_attention(
                qf[sl].float(), kf[sl].float(), vf[sl].float(), is_causal=causal)
    return out.reshape(B, H, S, D)


def correctness(torch, out, truth, dtype):
    """How `out` compares with `truth`, as a harness answers `check` with its own comparison."""
    tol = TOLERANCE[dtype]
    out = out.float()
    finite = torch.isfinite(out)
    diff = torch.where(finite, (out - truth).abs(), torch.zeros_like(out))
    rel = diff / truth.abs().clamp_min(1e-30)
    return {"correctness": {
        "max_abs_error": float(diff.max()),
        "max_rel_error": float(torch.where(truth != 0, rel, torch.zeros_like(rel)).max()),
        "norm_rel_error": float(diff.norm() / truth.norm().clamp_min(1e-30)),
        "mismatches": int((~finite | (diff > tol + tol * truth.abs())).sum()),
        "non_finite": int((~finite).sum()),
        "elements": out.numel(),
        "rtol": tol,
        "atol": tol,
    }}
