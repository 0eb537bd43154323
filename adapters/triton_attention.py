"""pawl's fused attention forward in Triton: O = softmax(scale * Q K^T [causal]) V, one program per block of
BLOCK_M query rows of one (batch, head), streaming K and V in blocks of BLOCK_N keys with an online
softmax (FlashAttention-2's loop: Dao 2023, "FlashAttention-2: Faster Attention with Better Parallelism
and Work Partitioning"), fp32 accumulation, exp2 with scale * log2(e) folded into one multiply.

Causal masking costs only the diagonal: key blocks wholly below the diagonal run unmasked, the blocks
crossing it masked, the ones above it are skipped. Rows past S (a last partial block) are masked on load
and store, and keys past S get -inf scores.

    attention(q, k, v, causal) -> o       q, k, v: [B, H, S, D] CUDA tensors, f16 or bf16, D in {16..256}

Block sizes per head dimension are fixed (CONFIGS), chosen for Hopper's 227 KiB of shared memory a block,
so every configuration compiles once and no autotuning runs inside a measurement.
"""

import triton
import triton.language as tl

# head dim -> (BLOCK_M, BLOCK_N, num_warps, num_stages)
CONFIGS = {
    16: (128, 64, 4, 3),
    32: (128, 64, 4, 3),
    64: (128, 64, 4, 3),
    128: (128, 64, 8, 3),
    256: (64, 64, 8, 2),
}
LOG2E = 1.4426950408889634


@triton.jit
def _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, start_n, end_n, offs_m, offs_n, seq_len, qk_scale,
           stride_kn, stride_vn, BLOCK_N: tl.constexpr, MASK_DIAGONAL: tl.constexpr):
    """Keys start_n..end_n against the query block: scores, online softmax, P V."""
    for n in range(start_n, end_n, BLOCK_N):
        keys = n + offs_n
        in_range = keys < seq_len
        k = tl.load(k_ptrs + n * stride_kn, mask=in_range[:, None], other=0.0)
        s = tl.dot(q, tl.trans(k)) * qk_scale
        keep = in_range[None, :]
        if MASK_DIAGONAL:
            keep = keep & (offs_m[:, None] >= keys[None, :])
        s = tl.where(keep, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # A row whose keys are all masked so far keeps max -inf: subtract 0 there, not -inf (no NaN).
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.math.exp2(s - m_safe[:, None])
        alpha = tl.math.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(v_ptrs + n * stride_vn, mask=in_range[:, None], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    return acc, m_i, l_i


@triton.jit
def _attention_fwd(Q, K, V, O, seq_len, qk_scale,
                   stride_qb, stride_qh, stride_qs,
                   stride_kb, stride_kh, stride_ks,
                   stride_vb, stride_vh, stride_vs,
                   stride_ob, stride_oh, stride_os,
                   H: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                   CAUSAL: tl.constexpr):
    block_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_m = block_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    q_ptrs = Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qs + offs_d[None, :]
    k_ptrs = K + b * stride_kb + h * stride_kh + offs_n[:, None] * stride_ks + offs_d[None, :]
    v_ptrs = V + b * stride_vb + h * stride_vh + offs_n[:, None] * stride_vs + offs_d[None, :]
    rows = offs_m < seq_len
    q = tl.load(q_ptrs, mask=rows[:, None], other=0.0)

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    if CAUSAL:
        # Blocks of keys wholly at or before the block's first query: no mask but the sequence end.
        full_end = (block_m * BLOCK_M) // BLOCK_N * BLOCK_N
        acc, m_i, l_i = _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, 0, full_end, offs_m, offs_n, seq_len,
                               qk_scale, stride_ks, stride_vs, BLOCK_N, False)
        # The blocks the diagonal crosses, masked.
        diag_end = tl.minimum((block_m + 1) * BLOCK_M, seq_len)
        acc, m_i, l_i = _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, full_end, diag_end, offs_m, offs_n, seq_len,
                               qk_scale, stride_ks, stride_vs, BLOCK_N, True)
    else:
        acc, m_i, l_i = _block(acc, m_i, l_i, q, k_ptrs, v_ptrs, 0, seq_len, offs_m, offs_n, seq_len,
                               qk_scale, stride_ks, stride_vs, BLOCK_N, False)
    l_safe = tl.where(l_i == 0.0, 1.0, l_i)
    out = acc / l_safe[:, None]
    o_ptrs = O + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_os + offs_d[None, :]
    tl.store(o_ptrs, out.to(O.dtype.element_ty), mask=rows[:, None])


def attention(q, k, v, causal, out=None):
    """O = softmax(Q K^T / sqrt(D) [causal]) V for [B, H, S, D] tensors whose last dimension is contiguous."""
    B, H, S, D = q.shape
    if D not in CONFIGS:
        raise ValueError(f"head dim {D} is not supported; the kernel takes {sorted(CONFIGS)}")
    for t in (q, k, v):
        if t.stride(-1) != 1:
            raise ValueError("q, k and v need a contiguous last dimension")
    block_m, block_n, warps, stages = CONFIGS[D]
    if out is None:
        out = q.new_empty(q.shape)
    grid = (triton.cdiv(S, block_m), B * H)
    _attention_fwd[grid](
        q, k, v, out, S, (D ** -0.5) * LOG2E,
        q.stride(0), q.stride(1), q.stride(2),
        k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2),
        out.stride(0), out.stride(1), out.stride(2),
        H=H, HEAD_DIM=D, BLOCK_M=block_m, BLOCK_N=block_n, CAUSAL=causal,
        num_warps=warps, num_stages=stages,
    )
    return out
