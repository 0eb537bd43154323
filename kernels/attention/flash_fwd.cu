// FlashAttention-2-style forward attention for NVRTC: O = softmax(scale · Q Kᵀ [+ causal mask]) V.
//
// Layout: q, k, v, o are [B, H, S, D] contiguous, f16 or bf16; accumulation is fp32.
// Grid (ceil_div(S, BLOCK_M), H, B); block NUM_WARPS * 32 threads; dynamic shared memory
// (BLOCK_M + 2 * NUM_STAGES * BLOCK_N) * HEAD_DIM * 2 bytes.
//
// Compile-time parameters (-D): HEAD_DIM (64 or 128), IS_CAUSAL (0/1), USE_BF16 (0/1), and the tune
// parameters BLOCK_M, BLOCK_N, NUM_WARPS, NUM_STAGES. Each warp owns BLOCK_M / NUM_WARPS query rows
// (16 or 32), keeps the output accumulator and the softmax statistics in registers for the whole key
// loop (Q's fragments too, where they fit in 32 registers; else they are re-read from shared memory),
// and never talks to another warp except through the shared K/V tiles.
//
// The scheme follows FlashAttention-2 (Dao, 2023): tensor-core mma.sync m16n8k16 fed by ldmatrix, K/V
// tiles streamed through a cp.async ring NUM_STAGES deep, online softmax with the scale folded into one
// FFMA before exp2, P kept in registers as the A operand of the second product, and the row sum reduced
// across the quad only once, at the end.

// No #include: NVRTC 13.0 does not carry cuda_fp16.h / cuda_bf16.h, and pawl compiles without a toolkit
// on the include path. Elements are stored as raw 16-bit words and converted with PTX `cvt`.

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef IS_CAUSAL
#define IS_CAUSAL 0
#endif
#ifndef USE_BF16
#define USE_BF16 0
#endif
#ifndef BLOCK_M
#define BLOCK_M 128
#endif
#ifndef BLOCK_N
#define BLOCK_N 64
#endif
#ifndef NUM_WARPS
#define NUM_WARPS 8
#endif
#ifndef NUM_STAGES
#define NUM_STAGES 2
#endif

namespace {

typedef unsigned int u32;

// -inf without math.h, which NVRTC does not always provide.
#define NEG_INF __int_as_float(0xff800000)

typedef unsigned short elem_t;  // f16 or bf16 bits, as USE_BF16 says

constexpr int D = HEAD_DIM;
constexpr int BM = BLOCK_M;
constexpr int BN = BLOCK_N;
constexpr int NW = NUM_WARPS;
constexpr int NS = NUM_STAGES;
constexpr int THREADS = NW * 32;
constexpr int WARP_ROWS = BM / NW;   // query rows per warp
constexpr int MT = WARP_ROWS / 16;   // 16-row mma tiles per warp
constexpr int CHUNKS = D / 8;        // 16-byte chunks per row
constexpr int KD = D / 16;           // k-steps of S = Q Kᵀ
constexpr int NT = BN / 8;           // 8-column tiles of S
constexpr int KN = BN / 16;          // k-steps of O += P V
constexpr int DT = D / 8;            // 8-column tiles of O
constexpr int ROW_BYTES = D * 2;
// Q's A fragments stay in registers for the whole key loop when they cost at most 32 registers;
// otherwise (HEAD_DIM 128 with 32 rows per warp) they are re-read from shared memory at each k-step,
// which keeps the output accumulators out of local memory.
constexpr bool Q_IN_REGS = MT * KD * 4 <= 32;
constexpr int STAGE_BYTES = 2 * BN * ROW_BYTES;  // one K tile and one V tile

static_assert(D == 64 || D == 128, "HEAD_DIM must be 64 or 128");
static_assert(BM % (16 * NW) == 0 && MT >= 1, "BLOCK_M must be a multiple of 16 * NUM_WARPS");
static_assert(BN % 16 == 0 && BN >= 16, "BLOCK_N must be a multiple of 16");
static_assert(NS >= 2, "NUM_STAGES must be at least 2");

// Shared tiles are rows of D elements split into 16-byte chunks; chunk c of row r is stored at chunk
// c ^ (r % 8), so the eight rows one ldmatrix phase reads fall into eight different bank groups.
__device__ __forceinline__ int swizzle(int row, int chunk) { return row * D + ((chunk ^ (row & 7)) << 3); }

__device__ __forceinline__ u32 smem_u32(const void* p) {
    u32 addr;
    asm volatile("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(addr) : "l"(p));
    return addr;
}

// 16 bytes global → shared, bypassing L1; src_bytes = 0 fills the chunk with zeros (rows past S).
__device__ __forceinline__ void cp_async16(u32 dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(u32 (&r)[4], u32 addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(u32 (&r)[4], u32 addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

// c += a · b for one 16×8×16 tile, fp32 accumulators.
__device__ __forceinline__ void mma16816(float (&c)[4], const u32 (&a)[4], u32 b0, u32 b1) {
#if USE_BF16
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// Two floats rounded to the element type, `lo` in the low half, as mma operands and memory expect.
__device__ __forceinline__ u32 pack2(float lo, float hi) {
    u32 packed;
#if USE_BF16
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(packed) : "f"(hi), "f"(lo));
#else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(packed) : "f"(hi), "f"(lo));
#endif
    return packed;
}

// Starts copying rows [row0, row0 + ROWS) of a [S, D] matrix into a swizzled shared tile.
template <int ROWS>
__device__ __forceinline__ void load_tile(elem_t* tile, const elem_t* __restrict__ src, int row0, int seq_len) {
    constexpr int TOTAL = ROWS * CHUNKS;
#pragma unroll
    for (int it = 0; it < (TOTAL + THREADS - 1) / THREADS; ++it) {
        const int i = it * THREADS + (int)threadIdx.x;
        if (TOTAL % THREADS == 0 || i < TOTAL) {
            const int r = i / CHUNKS;
            const int c = i % CHUNKS;
            const int row = row0 + r;
            const bool inside = row < seq_len;
            const elem_t* from = src + (size_t)(inside ? row : 0) * D + c * 8;
            cp_async16(smem_u32(tile + swizzle(r, c)), from, inside ? 16 : 0);
        }
    }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(THREADS)
    flash_fwd(const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
              elem_t* __restrict__ o, int seq_len, float scale) {
    extern __shared__ __align__(1024) unsigned char smem[];  // the XOR addressing below needs 256
    elem_t* s_q = reinterpret_cast<elem_t*>(smem);
    elem_t* s_kv = s_q + BM * D;  // stage i: K at s_kv + i * 2 * BN * D, V right after it

    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    // Causal blocks further down the sequence do more work: start them first so the tail is short.
    const int m_block = IS_CAUSAL ? (int)(gridDim.x - 1 - blockIdx.x) : (int)blockIdx.x;
    const int m0 = m_block * BM;
    const size_t head = ((size_t)blockIdx.z * gridDim.y + blockIdx.y) * (size_t)seq_len * D;
    q += head;
    k += head;
    v += head;
    o += head;

    const int kv_end = IS_CAUSAL ? min(seq_len, m0 + BM) : seq_len;
    const int n_tiles = (kv_end + BN - 1) / BN;

    // Q, then the first NS - 1 K/V tiles, each its own cp.async group (empty groups keep the count).
    load_tile<BM>(s_q, q, m0, seq_len);
    cp_async_commit();
#pragma unroll
    for (int s = 0; s < NS - 1; ++s) {
        if (s < n_tiles) {
            elem_t* s_k = s_kv + s * 2 * BN * D;
            load_tile<BN>(s_k, k, s * BN, seq_len);
            load_tile<BN>(s_k + BN * D, v, s * BN, seq_len);
        }
        cp_async_commit();
    }
    cp_async_wait<NS - 1>();
    __syncthreads();

    // A-operand fragments of this warp's Q rows: matrices {rows 0-7, dims 0-7}, {rows 8-15, dims 0-7},
    // {rows 0-7, dims 8-15}, {rows 8-15, dims 8-15}. The addressing is the same XOR scheme as for K and
    // V below.
    const int warp_row0 = warp * WARP_ROWS;
    const u32 q_lane =
        smem_u32(s_q) + (warp_row0 + lane % 16) * ROW_BYTES + (((lane / 16) ^ (lane % 8)) << 4);
    u32 q_frag[Q_IN_REGS ? MT : 1][Q_IN_REGS ? KD : 1][4];
    if (Q_IN_REGS) {
#pragma unroll
        for (int mt = 0; mt < (Q_IN_REGS ? MT : 1); ++mt) {
#pragma unroll
            for (int kd = 0; kd < (Q_IN_REGS ? KD : 1); ++kd)
                ldmatrix_x4(q_frag[mt][kd], (q_lane ^ (kd << 5)) + mt * 16 * ROW_BYTES);
        }
    }

    // Thread layout of an m16n8 accumulator: rows lane/4 and lane/4 + 8, columns 2·(lane%4) + {0, 1}.
    float acc_o[MT][DT][4];
    float row_max[MT][2];
    float row_sum[MT][2];  // this thread's share; the quad's four shares are added at the end
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) acc_o[mt][dt][e] = 0.0f;
        }
        row_max[mt][0] = row_max[mt][1] = NEG_INF;
        row_sum[mt][0] = row_sum[mt][1] = 0.0f;
    }
    const float scale_log2 = scale * 1.4426950408889634f;

    // ldmatrix addresses. Lane l reads row l % 8 of one 8×8 matrix, so (row & 7) == l % 8 for every
    // tile, and the swizzled chunk (2·step + half) ^ (l % 8) equals (2·step) ^ (half ^ (l % 8)): a
    // per-lane offset, XORed with step << 5 (bits 5..7 of the byte address, which the 256-byte-aligned
    // stage bases and 16-row tile offsets leave clear). No address registers per step.
    // K (B operand of Q Kᵀ): matrices {keys 0-7, dims 0-7}, {keys 0-7, dims 8-15}, {keys 8-15, ...}.
    const int k_row = lane % 8 + (lane / 16) * 8;
    const u32 k_lane = smem_u32(s_kv) + k_row * ROW_BYTES + ((((lane / 8) % 2) ^ (lane % 8)) << 4);
    // V (B operand of P V, transposed): matrices {keys 0-7, dims 0-7}, {keys 8-15, dims 0-7}, ...
    const int v_row = lane % 8 + ((lane / 8) % 2) * 8;
    const u32 v_lane = smem_u32(s_kv + BN * D) + v_row * ROW_BYTES + (((lane / 16) ^ (lane % 8)) << 4);

    for (int j = 0; j < n_tiles; ++j) {
        cp_async_wait<NS - 2>();
        __syncthreads();  // tile j is in shared memory, and every warp is done with tile j - 1's stage
        {
            const int next = j + NS - 1;
            if (next < n_tiles) {
                elem_t* s_k = s_kv + (next % NS) * 2 * BN * D;
                load_tile<BN>(s_k, k, next * BN, seq_len);
                load_tile<BN>(s_k + BN * D, v, next * BN, seq_len);
            }
            cp_async_commit();
        }
        const u32 k_addr = k_lane + (j % NS) * STAGE_BYTES;
        const u32 v_addr = v_lane + (j % NS) * STAGE_BYTES;

        // S = Q Kᵀ for this warp's rows and BN keys. Kᵀ's B fragments are K's rows as stored: ldmatrix
        // without transpose; one x4 covers two 8-key tiles of one k-step.
        float acc_s[MT][NT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) acc_s[mt][nt][e] = 0.0f;
            }
        }
#pragma unroll
        for (int kd = 0; kd < KD; ++kd) {
            u32 a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                if (Q_IN_REGS) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) a[mt][e] = q_frag[Q_IN_REGS ? mt : 0][Q_IN_REGS ? kd : 0][e];
                } else {
                    ldmatrix_x4(a[mt], (q_lane ^ (kd << 5)) + mt * 16 * ROW_BYTES);
                }
            }
#pragma unroll
            for (int np = 0; np < NT / 2; ++np) {
                u32 b[4];
                ldmatrix_x4(b, (k_addr ^ (kd << 5)) + np * 16 * ROW_BYTES);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    mma16816(acc_s[mt][2 * np], a[mt], b[0], b[1]);
                    mma16816(acc_s[mt][2 * np + 1], a[mt], b[2], b[3]);
                }
            }
        }

        // Keys past the sequence, and keys after the query when causal, get -inf. Only the last tile
        // and the tiles crossing the diagonal need it; the test is uniform across the block.
        const int n0 = j * BN;
        if (n0 + BN > seq_len || (IS_CAUSAL && n0 + BN - 1 > m0)) {
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int col = n0 + nt * 8 + (lane % 4) * 2 + (e & 1);
                        const int row = m0 + warp_row0 + mt * 16 + lane / 4 + (e / 2) * 8;
                        if (col >= seq_len || (IS_CAUSAL && col > row)) acc_s[mt][nt][e] = NEG_INF;
                    }
                }
            }
        }

        // Online softmax: new running max, rescale what was accumulated, P = exp2(S·scale·log2e − max).
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float mx = row_max[mt][h];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(acc_s[mt][nt][2 * h], acc_s[mt][nt][2 * h + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                // A row with every key masked so far keeps max -inf; subtract 0 instead of -inf (no NaN).
                const float max_scaled = mx == NEG_INF ? 0.0f : mx * scale_log2;
                const float correction = fast_exp2(row_max[mt][h] * scale_log2 - max_scaled);
                row_max[mt][h] = mx;
                float sum = 0.0f;
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                    for (int e = 2 * h; e < 2 * h + 2; ++e) {
                        const float p = fast_exp2(fmaf(acc_s[mt][nt][e], scale_log2, -max_scaled));
                        acc_s[mt][nt][e] = p;
                        sum += p;
                    }
                }
                row_sum[mt][h] = row_sum[mt][h] * correction + sum;
#pragma unroll
                for (int dt = 0; dt < DT; ++dt) {
                    acc_o[mt][dt][2 * h] *= correction;
                    acc_o[mt][dt][2 * h + 1] *= correction;
                }
            }
        }

        // O += P V. P's accumulator layout is already the A-fragment layout: the S tiles 2·kn and
        // 2·kn + 1 make the A operand of k-step kn. V's B fragments need ldmatrix with transpose.
#pragma unroll
        for (int kn = 0; kn < KN; ++kn) {
            u32 p_frag[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                p_frag[mt][0] = pack2(acc_s[mt][2 * kn][0], acc_s[mt][2 * kn][1]);
                p_frag[mt][1] = pack2(acc_s[mt][2 * kn][2], acc_s[mt][2 * kn][3]);
                p_frag[mt][2] = pack2(acc_s[mt][2 * kn + 1][0], acc_s[mt][2 * kn + 1][1]);
                p_frag[mt][3] = pack2(acc_s[mt][2 * kn + 1][2], acc_s[mt][2 * kn + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < DT / 2; ++dp) {
                u32 b[4];
                ldmatrix_x4_trans(b, (v_addr ^ (dp << 5)) + kn * 16 * ROW_BYTES);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    mma16816(acc_o[mt][2 * dp], p_frag[mt], b[0], b[1]);
                    mma16816(acc_o[mt][2 * dp + 1], p_frag[mt], b[2], b[3]);
                }
            }
        }
    }
    cp_async_wait<0>();  // only empty groups can remain; leave none behind

    // Epilogue: O / rowsum, rounded, staged through this warp's own Q rows (which only this warp read)
    // so that the global stores are whole 16-byte chunks.
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float sum = row_sum[mt][h];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
            const int r = warp_row0 + mt * 16 + lane / 4 + h * 8;
#pragma unroll
            for (int dt = 0; dt < DT; ++dt) {
                const u32 packed = pack2(acc_o[mt][dt][2 * h] * inv, acc_o[mt][dt][2 * h + 1] * inv);
                *reinterpret_cast<u32*>(s_q + swizzle(r, dt) + (lane % 4) * 2) = packed;
            }
        }
    }
    __syncwarp();
#pragma unroll
    for (int it = 0; it < WARP_ROWS * CHUNKS / 32; ++it) {
        const int i = it * 32 + lane;
        const int r = warp_row0 + i / CHUNKS;
        const int c = i % CHUNKS;
        const int row = m0 + r;
        if (row < seq_len) {
            *reinterpret_cast<uint4*>(o + (size_t)row * D + c * 8) =
                *reinterpret_cast<const uint4*>(s_q + swizzle(r, c));
        }
    }
}
