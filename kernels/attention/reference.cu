// Reference forward attention, the oracle flash_fwd is checked against: simple rather than fast.
//
// O = softmax(scale · Q Kᵀ [+ causal mask]) V with every product, sum and exponential in fp32, and the
// softmax in two passes over the keys (the row maximum first, then the exponentials, their sum and the
// weighted sum of V), so no online rescaling is involved.
//
// Layout: q, k, v, o are [B, H, S, D] contiguous, f16 or bf16. Any S, any D ≤ 128.
// Grid (S, H, B): one block of 128 threads (4 warps) per query row. Each warp takes every fourth key and
// computes its dot product across its lanes (lane d holds dimensions d, d + 32, d + 64, d + 96), so
// the reads of K and V rows are coalesced.
// Defines: HEAD_DIM, IS_CAUSAL (0/1), USE_BF16 (0/1).

// No #include: NVRTC 13.0 does not carry cuda_fp16.h / cuda_bf16.h. Elements are raw 16-bit words
// converted with PTX `cvt` (bf16 → f32 is exact as a 16-bit shift).

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef IS_CAUSAL
#define IS_CAUSAL 0
#endif
#ifndef USE_BF16
#define USE_BF16 0
#endif

namespace {

typedef unsigned short elem_t;  // f16 or bf16 bits, as USE_BF16 says

#if USE_BF16
__device__ float to_float(elem_t x) { return __uint_as_float((unsigned int)x << 16); }
__device__ elem_t from_float(float x) {
    elem_t y;
    asm("cvt.rn.bf16.f32 %0, %1;\n" : "=h"(y) : "f"(x));
    return y;
}
#else
__device__ float to_float(elem_t x) {
    float y;
    asm("cvt.f32.f16 %0, %1;\n" : "=f"(y) : "h"(x));
    return y;
}
__device__ elem_t from_float(float x) {
    elem_t y;
    asm("cvt.rn.f16.f32 %0, %1;\n" : "=h"(y) : "f"(x));
    return y;
}
#endif

constexpr int D = HEAD_DIM;
constexpr int WARPS = 4;
constexpr int PER_LANE = (D + 31) / 32;  // dimensions per lane
static_assert(D >= 1 && D <= 128, "HEAD_DIM must be in 1..=128");

__device__ float warp_sum(float x) {
    for (int off = 16; off > 0; off /= 2) x += __shfl_xor_sync(0xffffffffu, x, off);
    return x;
}

// q · k_row · scale, the same value in every lane of the warp.
__device__ float score(const float (&qd)[PER_LANE], const elem_t* k_row, int lane, float scale) {
    float dot = 0.0f;
    for (int i = 0; i < PER_LANE; ++i) {
        const int d = lane + 32 * i;
        if (d < D) dot += qd[i] * to_float(k_row[d]);
    }
    return warp_sum(dot) * scale;
}

}  // namespace

extern "C" __global__ void __launch_bounds__(WARPS * 32)
    attention_ref(const elem_t* q, const elem_t* k, const elem_t* v, elem_t* o, int seq_len, float scale) {
    __shared__ float part_max[WARPS];
    __shared__ float part_sum[WARPS];
    __shared__ float part_acc[WARPS][D];

    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    const int row = blockIdx.x;
    const size_t head = ((size_t)blockIdx.z * gridDim.y + blockIdx.y) * (size_t)seq_len * D;
    q += head;
    k += head;
    v += head;
    o += head;
    const int keys = IS_CAUSAL ? row + 1 : seq_len;

    float qd[PER_LANE];
    for (int i = 0; i < PER_LANE; ++i) {
        const int d = lane + 32 * i;
        qd[i] = d < D ? to_float(q[(size_t)row * D + d]) : 0.0f;
    }

    // Pass 1: the row maximum of the scores.
    float mx = -3.402823466e38f;
    for (int j = warp; j < keys; j += WARPS) mx = fmaxf(mx, score(qd, k + (size_t)j * D, lane, scale));
    if (lane == 0) part_max[warp] = mx;
    __syncthreads();
    for (int w = 0; w < WARPS; ++w) mx = fmaxf(mx, part_max[w]);

    // Pass 2: p_j = exp(s_j − max), their sum, and Σ p_j v_j.
    float sum = 0.0f;
    float acc[PER_LANE];
    for (int i = 0; i < PER_LANE; ++i) acc[i] = 0.0f;
    for (int j = warp; j < keys; j += WARPS) {
        const float p = expf(score(qd, k + (size_t)j * D, lane, scale) - mx);
        sum += p;
        for (int i = 0; i < PER_LANE; ++i) {
            const int d = lane + 32 * i;
            if (d < D) acc[i] += p * to_float(v[(size_t)j * D + d]);
        }
    }
    if (lane == 0) part_sum[warp] = sum;
    for (int i = 0; i < PER_LANE; ++i) {
        const int d = lane + 32 * i;
        if (d < D) part_acc[warp][d] = acc[i];
    }
    __syncthreads();

    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float total = 0.0f;
        float out = 0.0f;
        for (int w = 0; w < WARPS; ++w) {
            total += part_sum[w];
            out += part_acc[w][d];
        }
        o[(size_t)row * D + d] = from_float(out / total);
    }
}
