// The kernel pawl measures: out = a * x + y, one element per thread.
// Written by `pawl init --cuda`; put your own kernel here.
extern "C" __global__ void saxpy(float a, const float* x, const float* y, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = a * x[i] + y[i];
    }
}

// The reference: a plain version you trust, against which every output is checked before timing.
// It takes the same arguments and has a launch of its own (a grid-stride loop over every element).
extern "C" __global__ void saxpy_ref(float a, const float* x, const float* y, float* out, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        out[i] = fmaf(a, x[i], y[i]);
    }
}
