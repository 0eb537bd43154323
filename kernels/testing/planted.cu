// A test kernel with a planted slowdown, for pawl's sensitivity experiment (scripts/sensitivity.sh).
//
// Each thread runs one chain of dependent FMAs. Launched as whole waves (W × 132 SMs × 2048 threads
// on an H100), the SMs' FP32 pipes are saturated and the time is proportional to the iteration
// count: ITERS iterations, plus round(ITERS · SLOWDOWN_PCT / 100) planted ones. With ITERS = 2048 the
// planted work is 0.49% at SLOWDOWN_PCT = 0.5, 0.98% at 1 and 2.0% at 2 (the script prints the exact
// figure, and measures what it does to the time).

#ifndef ITERS
#define ITERS 2048
#endif
#ifndef SLOWDOWN_PCT
#define SLOWDOWN_PCT 0.0
#endif

#define PLANTED_ITERS (ITERS + (int)((double)ITERS * (SLOWDOWN_PCT) / 100.0 + 0.5))

extern "C" __global__ void planted(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float m = 0.9999f, k = 0.0001f;
    float a = x[i];
#pragma unroll 16
    for (int t = 0; t < PLANTED_ITERS; ++t) a = fmaf(a, m, k);
    y[i] = a;
}
