//! pawl's native CUDA backend. (Being written.)
