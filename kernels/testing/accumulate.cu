// Kernels that accumulate into their output with atomics, so every launch must start from zeros: a
// histogram (integer atomics, exact) and split row sums (float atomics, as split-K GEMMs do: the order
// of the additions varies from launch to launch, so the result matches the reference only within a
// tolerance). Their outputs are declared `reset = true` in the suite. The references compute the same
// thing without atomics, one block per output element.

extern "C" __global__ void histogram(const unsigned int* __restrict__ x, unsigned int* __restrict__ bins,
                                     long long n, int nbins) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += stride) {
        atomicAdd(&bins[x[i] % nbins], 1u);
    }
}

// One block per bin: count the elements that fall in it, reduce in shared memory, write once.
extern "C" __global__ void histogram_ref(const unsigned int* x, unsigned int* bins, long long n, int nbins) {
    __shared__ unsigned int partial[256];
    unsigned int count = 0;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) {
        count += (x[i] % nbins) == blockIdx.x;
    }
    partial[threadIdx.x] = count;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) bins[blockIdx.x] = partial[0];
}

// Grid (rows, splits): block (r, s) sums its slice of row r and adds it to out[r].
extern "C" __global__ void split_row_sums(const float* __restrict__ x, float* __restrict__ out, int cols,
                                          int splits) {
    __shared__ float partial[256];
    int row = blockIdx.x;
    int chunk = (cols + splits - 1) / splits;
    int begin = blockIdx.y * chunk;
    int end = min(cols, begin + chunk);
    float sum = 0.0f;
    for (int c = begin + threadIdx.x; c < end; c += blockDim.x) sum += x[(long long)row * cols + c];
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(&out[row], partial[0]);
}

// Same arguments; one block per row sums the whole row in double and writes it once.
extern "C" __global__ void row_sums_ref(const float* x, float* out, int cols, int splits) {
    __shared__ double partial[256];
    int row = blockIdx.x;
    double sum = 0.0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += x[(long long)row * cols + c];
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[row] = (float)partial[0];
}
