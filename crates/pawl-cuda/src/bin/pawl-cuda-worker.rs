//! A standalone CUDA worker (what `pawl __worker` runs), for the crate's own tests and examples.

fn main() -> std::process::ExitCode {
    pawl_cuda::serve_stdio()
}
