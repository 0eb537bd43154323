// A compute-bound FMA chain: each thread runs four independent chains of `iters` dependent FMAs, so
// the SMs' FP32 units, not memory, set the time (8·iters FLOPs per thread). The reference runs the same
// arithmetic one chain after another, which gives bit-identical results.

extern "C" __global__ void fma_chain(const float* __restrict__ x, float* __restrict__ y, int iters, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float m = 0.999f, k = 0.001f;
    float a = x[i], b = a * 0.5f + 1.0f, c = a - 1.0f, d = a * 0.25f;
    for (int t = 0; t < iters; ++t) {
        a = fmaf(a, m, k);
        b = fmaf(b, m, k);
        c = fmaf(c, m, k);
        d = fmaf(d, m, k);
    }
    y[i] = a + b + c + d;
}

extern "C" __global__ void fma_ref(const float* x, float* y, int iters, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float m = 0.999f, k = 0.001f;
    float init[4] = {x[i], x[i] * 0.5f + 1.0f, x[i] - 1.0f, x[i] * 0.25f};
    float out[4];
    for (int chain = 0; chain < 4; ++chain) {
        float v = init[chain];
#pragma unroll 1
        for (int t = 0; t < iters; ++t) v = fmaf(v, m, k);
        out[chain] = v;
    }
    y[i] = out[0] + out[1] + out[2] + out[3];
}
