// Planted bugs, one per FAULT_* define, for testing that pawl catches them: an off-by-one that leaves
// the last element unwritten, a wrong result, an out-of-bounds write (a fault that kills the CUDA
// context) and a kernel that never returns. With no FAULT_* set it is a correct copy.

#ifndef FAULT_OFF_BY_ONE
#define FAULT_OFF_BY_ONE 0
#endif
#ifndef FAULT_WRONG
#define FAULT_WRONG 0
#endif
#ifndef FAULT_OOB
#define FAULT_OOB 0
#endif
#ifndef FAULT_HANG
#define FAULT_HANG 0
#endif

extern "C" __global__ void faulty_copy(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
#if FAULT_HANG
    // x is initialised with `index`, so x[0] == 0 and this never ends; volatile keeps the load in the loop.
    while (((volatile const float*)x)[0] == 0.0f) {
    }
#endif
#if FAULT_OFF_BY_ONE
    if (i < n - 1) y[i] = x[i];
#elif FAULT_WRONG
    if (i < n) y[i] = (i == n / 2) ? x[i] + 1.0f : x[i];
#elif FAULT_OOB
    // One terabyte past the end: certainly unmapped.
    if (i < n) y[i + (1ll << 38)] = x[i];
#else
    if (i < n) y[i] = x[i];
#endif
}

extern "C" __global__ void copy_ref(const float* x, float* y, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i];
}
