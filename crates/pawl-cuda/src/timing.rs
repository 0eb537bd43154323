//! Timing one sample on the GPU, as carefully as the hardware allows: the mechanics the engine's policy
//! (`pawl_core::engine`) asks for, batch by batch.
//!
//! Per sample: a blocking kernel spins on a host-mapped flag while the sample's work is enqueued behind
//! it, so launch latency never falls inside the sample; buffers the suite marks `reset` are filled
//! again; a read sweep over twice the L2 (before the timed work) leaves the cache cold and clean (a
//! write-only flush would leave dirty lines whose write-back lands inside the timed kernel); then the
//! launch. Then the flag is released and the host waits.
//!
//! The sample's time is the timed kernels' own, from CUPTI's records, where the kernel clock runs
//! (`crate::clock`); otherwise a pair of events around the launch, which also reads the launch's overhead.
//!
//! One sample per hold, not a batch: on the H100, 16 samples queued behind one hold each read about
//! 0.5 µs more than a sample queued alone (and spread three to seven times wider), whatever the kernel.
//! docs/measurement.md has the figures.
//!
//! Graph timing captures back-to-back launches in a CUDA graph and reports replay time per launch: warm
//! cache throughput, a different quantity from a cold single launch, recorded as `timing = "graph"`.

use std::sync::Arc;

use cudarc::driver::sys::{CUevent_flags, CUgraphInstantiate_flags, CUstreamCaptureMode};
use cudarc::driver::{
    CudaEvent, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PinnedHostSlice, PushKernelArg,
};

use crate::builtin::{Builtins, OWN_KERNELS};
use crate::clock::{KernelClock, timed_span_ns};
use crate::driver::Gpu;
use crate::error::CudaError;
use crate::launch::{Kernel, KernelArg};

/// Launches captured in one graph.
pub(crate) const GRAPH_LAUNCHES: usize = 20;
/// The blocking kernel gives up after this long, so a stuck host can never hang the GPU.
const BLOCK_TIMEOUT_NS: u64 = 10_000_000_000;

/// A page-locked, device-mapped flag the blocking kernel spins on.
struct HostFlag {
    host: PinnedHostSlice<u32>,
    device: u64,
}

impl HostFlag {
    fn new(gpu: &Gpu) -> Result<HostFlag, CudaError> {
        let flags =
            cudarc::driver::sys::CU_MEMHOSTALLOC_DEVICEMAP | cudarc::driver::sys::CU_MEMHOSTALLOC_PORTABLE;
        // SAFETY: one u32 of page-locked memory; it is written (set to 0) before any read.
        let mut host = unsafe { gpu.ctx.alloc_pinned_with_flags::<u32>(1, flags) }
            .map_err(CudaError::driver("allocating the host-mapped flag"))?;
        let ptr = host.as_mut_ptr().map_err(CudaError::driver("reaching the host-mapped flag"))?;
        let mut device = 0u64;
        // SAFETY: `ptr` is a live page-locked allocation made with DEVICEMAP; `device` takes one write.
        unsafe { cudarc::driver::sys::cuMemHostGetDevicePointer_v2(&mut device, ptr.cast(), 0) }
            .result()
            .map_err(CudaError::driver("mapping the host flag into the GPU's address space"))?;
        let flag = HostFlag { host, device };
        flag.set(0)?;
        Ok(flag)
    }

    fn ptr(&self) -> Result<*mut u32, CudaError> {
        self.host.as_ptr().map(|p| p.cast_mut()).map_err(CudaError::driver("reaching the host-mapped flag"))
    }

    fn set(&self, value: u32) -> Result<(), CudaError> {
        // SAFETY: the pointer is a live, aligned u32 in page-locked memory; volatile because the GPU
        // reads it concurrently and the store must not be elided or reordered away.
        unsafe { std::ptr::write_volatile(self.ptr()?, value) };
        Ok(())
    }

    fn get(&self) -> Result<u32, CudaError> {
        // SAFETY: as in `set`; the GPU may have written it (the blocking kernel's timeout mark).
        Ok(unsafe { std::ptr::read_volatile(self.ptr()?) })
    }
}

/// What runs between one sample's pair of events.
#[derive(Clone, Copy)]
pub(crate) enum Timed<'a> {
    Launch(&'a Kernel, &'a [KernelArg]),
    /// A graph of [`GRAPH_LAUNCHES`] launches, replayed once.
    Graph(&'a cudarc::driver::CudaGraph),
    /// Work a library enqueues on the stream (a cuBLAS call), one launch's worth.
    Work(&'a dyn Fn(&CudaStream) -> Result<(), CudaError>),
}

/// The stream held by the blocking kernel. Released by [`Held::release`]; dropped unreleased (an
/// error while enqueueing), it lets the blocking kernel go so the GPU is never left spinning.
struct Held<'a> {
    timer: &'a Timer,
    released: bool,
}

impl Held<'_> {
    /// Lets the queued work run and waits for it.
    fn release(mut self) -> Result<(), CudaError> {
        self.released = true;
        let timer = self.timer;
        timer.flag.set(1)?;
        timer.stream.synchronize().map_err(CudaError::driver("running the timed launch"))?;
        if timer.flag.get()? == 2 {
            return Err(CudaError::Setup(
                "the blocking kernel gave up after 10 s waiting for the sample to be enqueued; the host \
                 was stalled, so this sample cannot be trusted"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.released {
            // Nothing to report from a drop: the error that caused it is already on its way up.
            let _ = self.timer.flag.set(1);
        }
    }
}

/// Everything timing needs besides the kernel: stream, flag, flush buffer, and the kernel clock or events.
pub struct Timer {
    stream: Arc<CudaStream>,
    flag: HostFlag,
    flush: CudaSlice<u8>,
    sink: CudaSlice<u32>,
    flush_blocks: u32,
    stopwatch: Stopwatch,
}

/// What reads a sample's time.
enum Stopwatch {
    /// The kernels' own timestamps.
    Kernel(KernelClock),
    /// A pair of events around the timed work.
    Events { start: CudaEvent, end: CudaEvent },
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("flush_bytes", &self.flush.len())
            .field("kernel_clock", &matches!(self.stopwatch, Stopwatch::Kernel(_)))
            .finish()
    }
}

impl Timer {
    /// A timer on `gpu`'s stream; with `kernel_clock` (started before the context was made), samples
    /// are the kernels' own time.
    pub fn new(gpu: &Gpu, kernel_clock: Option<KernelClock>) -> Result<Timer, CudaError> {
        let flush_bytes = (2 * gpu.l2_bytes.max(1 << 20)).next_multiple_of(16) as usize;
        let stream = gpu.stream.clone();
        let flush = stream
            .alloc_zeros::<u8>(flush_bytes)
            .map_err(CudaError::driver("allocating the L2 flush buffer"))?;
        let sink = stream.alloc_zeros::<u32>(1).map_err(CudaError::driver("allocating the flush sink"))?;
        let event = || {
            gpu.ctx
                .new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(CudaError::driver("creating an event"))
        };
        let stopwatch = match kernel_clock {
            Some(clock) => Stopwatch::Kernel(clock),
            None => Stopwatch::Events { start: event()?, end: event()? },
        };
        Ok(Timer {
            flag: HostFlag::new(gpu)?,
            flush,
            sink,
            flush_blocks: gpu.sm_count.max(1) * 4,
            stream,
            stopwatch,
        })
    }

    fn flush_l2(&self, builtins: &Builtins) -> Result<(), CudaError> {
        let (buf, _a) = self.flush.device_ptr(&self.stream);
        let (sink, _b) = self.sink.device_ptr(&self.stream);
        let n16 = (self.flush.len() / 16) as u64;
        let cfg =
            LaunchConfig { grid_dim: (self.flush_blocks, 1, 1), block_dim: (512, 1, 1), shared_mem_bytes: 0 };
        let mut builder = self.stream.launch_builder(&builtins.flush);
        builder.arg(&buf).arg(&n16).arg(&sink);
        // SAFETY: pawl_flush(const uint4*, u64, u32*) reads n16 × 16 bytes of the live flush buffer and
        // may write one u32 to the live sink.
        unsafe { builder.launch(cfg) }.map_err(CudaError::driver("launching the L2 flush"))?;
        Ok(())
    }

    /// Launches the blocking kernel; the stream stays held until the returned guard is released or
    /// dropped, so an error while enqueueing can never leave the GPU spinning.
    fn hold_stream(&self, builtins: &Builtins) -> Result<Held<'_>, CudaError> {
        self.flag.set(0)?;
        let cfg = LaunchConfig { grid_dim: (1, 1, 1), block_dim: (1, 1, 1), shared_mem_bytes: 0 };
        let mut builder = self.stream.launch_builder(&builtins.block);
        let timeout = BLOCK_TIMEOUT_NS;
        builder.arg(&self.flag.device).arg(&timeout);
        // SAFETY: pawl_block(volatile u32*, u64) reads (and on timeout writes) the mapped flag, which
        // lives as long as `self`.
        unsafe { builder.launch(cfg) }.map_err(CudaError::driver("launching the blocking kernel"))?;
        Ok(Held { timer: self, released: false })
    }

    /// One sample: hold the stream, run `prepare` (resets of the case's buffers), flush L2 (when
    /// asked), enqueue the timed work (between a pair of events where there is no kernel clock),
    /// release, wait, and read the kernel clock or the events. Nanoseconds per launch.
    pub(crate) fn sample(
        &self,
        builtins: &Builtins,
        timed: Timed<'_>,
        flush: bool,
        prepare: &dyn Fn(&CudaStream) -> Result<(), CudaError>,
    ) -> Result<f64, CudaError> {
        let held = self.hold_stream(builtins)?;
        prepare(&self.stream)?;
        if flush {
            self.flush_l2(builtins)?;
        }
        if let Stopwatch::Events { start, .. } = &self.stopwatch {
            start.record(&self.stream).map_err(CudaError::driver("recording an event"))?;
        }
        let per_launch = match timed {
            Timed::Launch(kernel, args) => {
                kernel.launch(&self.stream, args)?;
                1.0
            }
            Timed::Graph(graph) => {
                graph.launch().map_err(CudaError::driver("replaying the graph"))?;
                GRAPH_LAUNCHES as f64
            }
            Timed::Work(work) => {
                work(&self.stream)?;
                1.0
            }
        };
        let clock = match &self.stopwatch {
            Stopwatch::Events { start, end } => {
                end.record(&self.stream).map_err(CudaError::driver("recording an event"))?;
                held.release()?;
                let ms = start.elapsed_ms(end).map_err(CudaError::driver("reading event times"))?;
                return Ok(f64::from(ms) * 1e6 / per_launch);
            }
            Stopwatch::Kernel(clock) => clock,
        };
        held.release()?;
        let is_own = |name: &str| OWN_KERNELS.contains(&name);
        let mut spans = clock.take()?;
        if timed_span_ns(&spans, is_own).is_none() {
            // A record can reach the buffers a moment after the stream is done: ask once more.
            spans.extend(clock.take()?);
            spans.sort_by_key(|s| (s.start_ns, s.end_ns));
        }
        let ns = timed_span_ns(&spans, is_own).ok_or_else(|| {
            CudaError::Setup(
                "CUPTI recorded no kernel for the timed launch; the sample cannot be read".into(),
            )
        })?;
        Ok(ns / per_launch)
    }

    /// A CUDA graph of [`GRAPH_LAUNCHES`] back-to-back launches of `kernel` on `args`.
    pub(crate) fn capture(
        &self,
        kernel: &Kernel,
        args: &[KernelArg],
    ) -> Result<cudarc::driver::CudaGraph, CudaError> {
        self.stream
            .begin_capture(CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .map_err(CudaError::driver("starting graph capture"))?;
        let launched: Result<(), CudaError> =
            (0..GRAPH_LAUNCHES).try_for_each(|_| kernel.launch(&self.stream, args));
        let graph = self
            .stream
            .end_capture(CUgraphInstantiate_flags(0))
            .map_err(CudaError::driver("instantiating the captured graph"))?;
        launched?;
        graph.ok_or_else(|| CudaError::Setup("graph capture produced an empty graph".into()))
    }
}
