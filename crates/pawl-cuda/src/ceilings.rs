//! The ceiling probes of `pawl ceilings`: what this GPU's memory and arithmetic deliver, timed like any
//! case (the stream held while the sample is enqueued, an event pair around one launch).
//!
//! pawl's own kernels (`ceilings.cu`, compiled by NVRTC through the cache) measure DRAM copy and read
//! bandwidth (512 MiB buffers, L2 flushed before each sample), L2 read bandwidth (a quarter of L2 read
//! over and over with `ld.global.cg`, warm) and FP32 FMA throughput (eight independent FMA chains a
//! thread). Dense tensor-core throughput is cuBLAS's `cublasGemmEx` on 8192³ f16 and bf16 matrices with
//! fp32 accumulation, loaded at run time through cudarc (libcublas.so.13 from the CUDA toolkit or the
//! `nvidia-cublas` wheel): a hand-written `mma.sync` kernel reaches only part of what Hopper's `wgmma`
//! does, and a ceiling must be what the hardware can be made to deliver.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cudarc::cublas::sys::{cublasComputeType_t, cublasGemmAlgo_t, cublasOperation_t, cudaDataType};
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, DevicePtrMut};
use cudarc::nvrtc::Ptx;
use pawl_core::ceilings::CeilingKind;
use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::compile::{self, Options, Source};
use crate::error::CudaError;
use crate::launch::{Geometry, Kernel, KernelArg, Scalar};
use crate::session::Session;
use crate::timing::Timed;

const SOURCE: &str = include_str!("ceilings.cu");
/// Bytes each DRAM buffer holds: far beyond any L2.
const DRAM_BYTES: usize = 512 << 20;
/// Bytes the L2 probe reads per launch, over its passes.
const L2_TRAFFIC: u64 = 4 << 30;
/// Rounds of 16 FMAs per chain in the FMA probe.
const FMA_ITERS: u32 = 4096;
/// The GEMM's M = N = K.
const GEMM_N: usize = 8192;
/// Each probe runs untimed for at least this long first, so clocks have ramped.
const WARMUP: Duration = Duration::from_millis(200);

/// One probe's samples and what one sample did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub kind: CeilingKind,
    /// Bytes or FLOPs of one launch.
    pub work: f64,
    pub samples_ns: Vec<f64>,
    pub method: String,
}

/// Why a probe could not run, kept beside the others' results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeFailure {
    pub kind: CeilingKind,
    pub error: String,
}

/// What the probe process reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub probes: Vec<Probe>,
    pub failures: Vec<ProbeFailure>,
}

/// Opens the GPU and runs every probe, `samples` samples each. A probe that cannot run (no cuBLAS)
/// is reported as a failure and the others still run; no GPU at all is an error.
pub fn measure(samples: usize) -> Result<ProbeReport, CudaError> {
    let session = Session::open(Cache::from_env())?;
    let module = load(&session)?;
    let mut report = ProbeReport::default();
    let samples = samples.max(1);
    for kind in CeilingKind::ALL {
        let probe = match kind {
            CeilingKind::DramCopy => dram_copy(&session, &module, samples),
            CeilingKind::DramRead => dram_read(&session, &module, samples),
            CeilingKind::L2Read => l2_read(&session, &module, samples),
            CeilingKind::Fp32Fma => fma(&session, &module, samples),
            CeilingKind::TensorF16 => gemm(&session, &module, false, samples),
            CeilingKind::TensorBf16 => gemm(&session, &module, true, samples),
        };
        match probe {
            Ok(p) => report.probes.push(p),
            Err(e) if e.is_sticky() => return Err(e),
            Err(e) => report.failures.push(ProbeFailure { kind, error: e.to_string() }),
        }
    }
    Ok(report)
}

fn load(session: &Session) -> Result<Arc<cudarc::driver::CudaModule>, CudaError> {
    let source = Source { name: "pawl_ceilings.cu".into(), text: SOURCE.into(), dir: None };
    let options = Options { arch: session.gpu().arch(), ..Options::default() };
    let compiled = compile::compile(&source, &options, &session.cache)?;
    session
        .gpu()
        .ctx
        .load_module(Ptx::from_binary(compiled.cubin))
        .map_err(CudaError::driver("loading pawl's ceiling probes"))
}

fn kernel(
    session: &Session,
    module: &Arc<cudarc::driver::CudaModule>,
    name: &str,
    grid: u32,
    block: u32,
) -> Result<Kernel, CudaError> {
    let function =
        module.load_function(name).map_err(CudaError::driver(format!("finding probe kernel {name}")))?;
    let geometry = Geometry { grid: [grid, 1, 1], block: [block, 1, 1], shared_mem: 0 };
    Kernel::new(function, geometry, session.gpu().max_shared_optin)
}

/// A device buffer of `words` random 32-bit words.
fn random_words(
    session: &Session,
    module: &Arc<cudarc::driver::CudaModule>,
    words: usize,
    seed: u64,
) -> Result<CudaSlice<u32>, CudaError> {
    let stream = session.gpu().stream.clone();
    let mut buffer =
        stream.alloc_zeros::<u32>(words).map_err(CudaError::driver("allocating a probe buffer"))?;
    let fill = kernel(session, module, "ceil_fill_words", session.gpu().sm_count * 8, 256)?;
    let ptr = buffer.device_ptr_mut(&stream).0;
    fill.launch(
        &stream,
        &[
            KernelArg::Pointer(ptr),
            KernelArg::Scalar(Scalar::I64(words as i64)),
            KernelArg::Scalar(Scalar::I64(seed as i64)),
        ],
    )?;
    stream.synchronize().map_err(CudaError::driver("filling a probe buffer"))?;
    Ok(buffer)
}

/// Runs `timed` once on its own (a library's first call may allocate or synchronize, which must not
/// happen behind the held stream), then untimed for [`WARMUP`], then takes `samples` samples.
fn sample(session: &Session, timed: Timed<'_>, flush: bool, samples: usize) -> Result<Vec<f64>, CudaError> {
    let stream = session.gpu().stream.clone();
    match timed {
        Timed::Launch(kernel, args) => kernel.launch(&stream, args)?,
        Timed::Work(work) => work(&stream)?,
        Timed::Graph(graph) => graph.launch().map_err(CudaError::driver("replaying the graph"))?,
    }
    stream.synchronize().map_err(CudaError::driver("running a probe once"))?;
    let started = Instant::now();
    let mut warm = 0;
    while started.elapsed() < WARMUP || warm < 3 {
        session.timer.sample(&session.builtins, timed, flush, &|_| Ok(()))?;
        warm += 1;
    }
    (0..samples).map(|_| session.timer.sample(&session.builtins, timed, flush, &|_| Ok(()))).collect()
}

fn stream_geometry(session: &Session) -> u32 {
    session.gpu().sm_count.max(1) * 8
}

fn dram_copy(
    session: &Session,
    module: &Arc<cudarc::driver::CudaModule>,
    samples: usize,
) -> Result<Probe, CudaError> {
    let stream = session.gpu().stream.clone();
    let words = DRAM_BYTES / 4;
    let src = random_words(session, module, words, 1)?;
    let mut dst = stream.alloc_zeros::<u32>(words).map_err(CudaError::driver("allocating a probe buffer"))?;
    let copy = kernel(session, module, "ceil_copy", stream_geometry(session), 512)?;
    let args = [
        KernelArg::Pointer(src.device_ptr(&stream).0),
        KernelArg::Pointer(dst.device_ptr_mut(&stream).0),
        KernelArg::Scalar(Scalar::I64((DRAM_BYTES / 16) as i64)),
    ];
    let samples_ns = sample(session, Timed::Launch(&copy, &args), true, samples)?;
    Ok(Probe {
        kind: CeilingKind::DramCopy,
        work: 2.0 * DRAM_BYTES as f64,
        samples_ns,
        method: format!(
            "pawl kernel ceil_copy, {} MiB read + written, 16-byte words, L2 flushed",
            DRAM_BYTES >> 20
        ),
    })
}

fn dram_read(
    session: &Session,
    module: &Arc<cudarc::driver::CudaModule>,
    samples: usize,
) -> Result<Probe, CudaError> {
    let stream = session.gpu().stream.clone();
    let src = random_words(session, module, DRAM_BYTES / 4, 2)?;
    let mut sink = stream.alloc_zeros::<u32>(1).map_err(CudaError::driver("allocating the sink"))?;
    let read = kernel(session, module, "ceil_read", stream_geometry(session), 512)?;
    let args = [
        KernelArg::Pointer(src.device_ptr(&stream).0),
        KernelArg::Scalar(Scalar::I64((DRAM_BYTES / 16) as i64)),
        KernelArg::Pointer(sink.device_ptr_mut(&stream).0),
    ];
    let samples_ns = sample(session, Timed::Launch(&read, &args), true, samples)?;
    Ok(Probe {
        kind: CeilingKind::DramRead,
        work: DRAM_BYTES as f64,
        samples_ns,
        method: format!("pawl kernel ceil_read, {} MiB read, 16-byte words, L2 flushed", DRAM_BYTES >> 20),
    })
}

fn l2_read(
    session: &Session,
    module: &Arc<cudarc::driver::CudaModule>,
    samples: usize,
) -> Result<Probe, CudaError> {
    let stream = session.gpu().stream.clone();
    let bytes = ((session.gpu().l2_bytes / 4).max(1 << 20) as usize).next_multiple_of(16);
    let reps = L2_TRAFFIC.div_ceil(bytes as u64).clamp(1, u64::from(u32::MAX)) as u32;
    let src = random_words(session, module, bytes / 4, 3)?;
    let mut sink = stream.alloc_zeros::<u32>(1).map_err(CudaError::driver("allocating the sink"))?;
    let read = kernel(session, module, "ceil_l2_read", stream_geometry(session), 512)?;
    let args = [
        KernelArg::Pointer(src.device_ptr(&stream).0),
        KernelArg::Scalar(Scalar::I64((bytes / 16) as i64)),
        KernelArg::Scalar(Scalar::U32(reps)),
        KernelArg::Pointer(sink.device_ptr_mut(&stream).0),
    ];
    let samples_ns = sample(session, Timed::Launch(&read, &args), false, samples)?;
    Ok(Probe {
        kind: CeilingKind::L2Read,
        work: bytes as f64 * f64::from(reps),
        samples_ns,
        method: format!(
            "pawl kernel ceil_l2_read, {} KiB (a quarter of L2) read {reps} times with ld.global.cg, warm",
            bytes >> 10
        ),
    })
}

fn fma(
    session: &Session,
    module: &Arc<cudarc::driver::CudaModule>,
    samples: usize,
) -> Result<Probe, CudaError> {
    let stream = session.gpu().stream.clone();
    let (blocks, threads) = (session.gpu().sm_count.max(1) * 4, 256u32);
    let mut sink =
        stream.alloc_zeros::<f32>(threads as usize).map_err(CudaError::driver("allocating the sink"))?;
    let fma = kernel(session, module, "ceil_fma", blocks, threads)?;
    let args = [
        KernelArg::Pointer(sink.device_ptr_mut(&stream).0),
        KernelArg::Scalar(Scalar::U32(FMA_ITERS)),
        KernelArg::Scalar(Scalar::F32(1.0)),
    ];
    let samples_ns = sample(session, Timed::Launch(&fma, &args), false, samples)?;
    let fmas = f64::from(blocks) * f64::from(threads) * 8.0 * 16.0 * f64::from(FMA_ITERS);
    Ok(Probe {
        kind: CeilingKind::Fp32Fma,
        work: 2.0 * fmas,
        samples_ns,
        method: format!(
            "pawl kernel ceil_fma, 8 independent FMA chains a thread, {blocks} × {threads} threads, warm"
        ),
    })
}

fn gemm(
    session: &Session,
    module: &Arc<cudarc::driver::CudaModule>,
    bf16: bool,
    samples: usize,
) -> Result<Probe, CudaError> {
    // SAFETY: only tries to dlopen libcublas by its usual names; nothing is called in it.
    if !unsafe { cudarc::cublas::sys::is_culib_present() } {
        return Err(CudaError::Setup(
            "cuBLAS (libcublas.so.13) was not found: put the CUDA toolkit's or the nvidia-cublas wheel's lib \
             folder on LD_LIBRARY_PATH"
                .into(),
        ));
    }
    let stream: Arc<CudaStream> = session.gpu().stream.clone();
    let n = GEMM_N;
    let elements = n * n;
    let fill = kernel(session, module, "ceil_fill_half", session.gpu().sm_count * 8, 256)?;
    let mut matrices = Vec::new();
    for seed in 0..3u64 {
        let mut m =
            stream.alloc_zeros::<u16>(elements).map_err(CudaError::driver("allocating a GEMM matrix"))?;
        let ptr = m.device_ptr_mut(&stream).0;
        fill.launch(
            &stream,
            &[
                KernelArg::Pointer(ptr),
                KernelArg::Scalar(Scalar::I64(elements as i64)),
                KernelArg::Scalar(Scalar::I64(seed as i64 + 10)),
                KernelArg::Scalar(Scalar::I32(i32::from(bf16))),
            ],
        )?;
        matrices.push(m);
    }
    stream.synchronize().map_err(CudaError::driver("filling the GEMM matrices"))?;
    let blas = cudarc::cublas::CudaBlas::new(stream.clone())
        .map_err(|e| CudaError::Setup(format!("cuBLAS cannot start: {e:?}")))?;
    let (a, b) = (matrices[0].device_ptr(&stream).0, matrices[1].device_ptr(&stream).0);
    let c = matrices[2].device_ptr(&stream).0;
    let dtype = if bf16 { cudaDataType::CUDA_R_16BF } else { cudaDataType::CUDA_R_16F };
    let (alpha, beta) = (1.0f32, 0.0f32);
    let side = n as i32;
    let work = |_: &CudaStream| -> Result<(), CudaError> {
        // SAFETY: a, b and c are live n × n matrices of `dtype` on the handle's stream; alpha and beta
        // are f32, as CUBLAS_COMPUTE_32F reads them from host memory (the default pointer mode).
        unsafe {
            cudarc::cublas::result::gemm_ex(
                *blas.handle(),
                cublasOperation_t::CUBLAS_OP_N,
                cublasOperation_t::CUBLAS_OP_N,
                side,
                side,
                side,
                (&alpha as *const f32).cast(),
                a as *const std::ffi::c_void,
                dtype,
                side,
                b as *const std::ffi::c_void,
                dtype,
                side,
                (&beta as *const f32).cast(),
                c as *mut std::ffi::c_void,
                dtype,
                side,
                cublasComputeType_t::CUBLAS_COMPUTE_32F,
                cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(|e| CudaError::Setup(format!("cublasGemmEx failed: {e:?}")))
    };
    let samples_ns = sample(session, Timed::Work(&work), false, samples)?;
    let name = if bf16 { "bf16" } else { "f16" };
    Ok(Probe {
        kind: if bf16 { CeilingKind::TensorBf16 } else { CeilingKind::TensorF16 },
        work: 2.0 * (n as f64).powi(3),
        samples_ns,
        method: format!(
            "cuBLAS cublasGemmEx {n}×{n}×{n} {name}, fp32 accumulation (loaded at run time), warm"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_compile_for_hopper_and_ampere() {
        if !crate::driver::nvrtc_present() {
            eprintln!("skipping: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc)");
            return;
        }
        let source = Source { name: "pawl_ceilings.cu".into(), text: SOURCE.into(), dir: None };
        for arch in ["sm_90a", "sm_80"] {
            let options = Options { arch: arch.into(), ..Options::default() };
            let compiled = compile::compile(&source, &options, &Cache::disabled()).unwrap();
            assert!(compiled.cubin.starts_with(b"\x7fELF"), "{arch}");
        }
    }
}
