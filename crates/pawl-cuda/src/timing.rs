//! Timing a kernel on the GPU, as carefully as the hardware allows.
//!
//! Per sample: a blocking kernel spins on a host-mapped flag while the sample's work is enqueued behind
//! it, so launch latency never sits between its pair of events: a read sweep over twice the L2 (outside
//! the events) leaves the cache cold and clean (a write-only flush would leave dirty lines whose
//! write-back lands inside the timed kernel), then the start event, the launch and the end event. Then
//! the flag is released and the host waits for the sample.
//!
//! One sample per hold, not a batch: on the H100, 16 samples queued behind one hold each read about
//! 0.5 µs more than a sample queued alone (and spread three to seven times wider), whatever the kernel;
//! four per hold already cost a little. docs/measurement.md has the figures.
//!
//! Warm-up runs batches for `warmup_ms`, then until the SM clock stops rising. Sampling stops when the
//! median's 99% confidence interval is within ±`target_rel_ci`, or at `max_samples` or `max_time_s`.
//! The SM clock and throttle reasons are read after every batch of [`BATCH`] samples.
//!
//! Graph mode captures back-to-back launches in a CUDA graph and reports replay time per launch: warm
//! cache throughput, a different quantity from a cold single launch, recorded as `timing = "graph"`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cudarc::driver::sys::{CUevent_flags, CUgraphInstantiate_flags, CUstreamCaptureMode};
use cudarc::driver::{
    CudaEvent, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PinnedHostSlice, PushKernelArg,
};
use pawl_core::suite::{MeasureSettings, limits};

use crate::builtin::Builtins;
use crate::driver::Gpu;
use crate::env::{Monitor, is_throttling};
use crate::error::CudaError;
use crate::launch::{Kernel, KernelArg};
use pawl_core::stats::{Sample, median_ci};

/// How samples are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimingMode {
    /// One launch per sample, L2 flushed (clean) before each. The default.
    #[default]
    Cold,
    /// One launch per sample, L2 left as the last launch left it (`warm_cache`).
    Warm,
    /// Back-to-back launches replayed from a CUDA graph, time per launch (warm cache).
    Graph,
}

impl TimingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TimingMode::Cold => "cold",
            TimingMode::Warm => "warm",
            TimingMode::Graph => "graph",
        }
    }

    /// The mode for `settings`, unless graph timing was asked for.
    pub fn for_settings(graph: bool, settings: &MeasureSettings) -> TimingMode {
        match (graph, settings.warm_cache) {
            (true, _) => TimingMode::Graph,
            (false, true) => TimingMode::Warm,
            (false, false) => TimingMode::Cold,
        }
    }
}

/// Samples between two readings of the SM clock and throttle reasons, and between two checks of the
/// stopping rule.
pub(crate) const BATCH: usize = 16;
/// Launches captured in one graph.
const GRAPH_LAUNCHES: usize = 20;
/// The blocking kernel gives up after this long, so a stuck host can never hang the GPU.
const BLOCK_TIMEOUT_NS: u64 = 10_000_000_000;
/// Warm-up stops waiting for the clock after this many times `warmup_ms`.
const WARMUP_CAP_FACTOR: f64 = 10.0;
/// Confidence of the median's interval used for stopping.
const STOP_CONFIDENCE: f64 = 0.99;

/// What timing a case produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub samples_ns: Vec<f64>,
    /// SM clock after each batch.
    pub sm_clock_mhz: Vec<u32>,
    pub throttled_samples: usize,
    pub throttle_reasons: BTreeSet<String>,
    pub mode: TimingMode,
    /// The median's interval reached the target.
    pub converged: bool,
    /// Half-width of the median's interval over the median when sampling stopped.
    pub rel_ci: Option<f64>,
}

impl Timing {
    /// Notes for the case: throttling, or a target not reached.
    pub fn notes(&self, settings: &MeasureSettings) -> Vec<String> {
        let mut notes = Vec::new();
        let n = self.samples_ns.len();
        if self.throttled_samples * 2 > n {
            notes.push(format!(
                "measured while throttled: {} of {n} samples ({})",
                self.throttled_samples,
                self.throttle_reasons.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !self.converged {
            let reached = self.rel_ci.map_or("no interval".to_owned(), |r| format!("±{:.2}%", r * 100.0));
            notes.push(format!(
                "stopped at {n} samples before the median's 99% interval reached ±{:.2}% (reached {reached})",
                settings.target_rel_ci * 100.0
            ));
        }
        notes
    }
}

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
enum Timed<'a> {
    Launch(&'a Kernel, &'a [KernelArg]),
    /// A graph of [`GRAPH_LAUNCHES`] launches, replayed once.
    Graph(&'a cudarc::driver::CudaGraph),
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

/// Everything timing needs besides the kernel: stream, flag, flush buffer and events.
pub struct Timer {
    stream: Arc<CudaStream>,
    flag: HostFlag,
    flush: CudaSlice<u8>,
    sink: CudaSlice<u32>,
    flush_blocks: u32,
    start: CudaEvent,
    end: CudaEvent,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").field("flush_bytes", &self.flush.len()).finish()
    }
}

impl Timer {
    pub fn new(gpu: &Gpu) -> Result<Timer, CudaError> {
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
        Ok(Timer {
            flag: HostFlag::new(gpu)?,
            flush,
            sink,
            flush_blocks: gpu.sm_count.max(1) * 4,
            stream,
            start: event()?,
            end: event()?,
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

    /// One sample: hold the stream, enqueue the flush (if cold), the start event, the timed work and
    /// the end event, release, wait, and read the events. Nanoseconds per launch.
    fn sample(&self, builtins: &Builtins, timed: Timed<'_>, flush: bool) -> Result<f64, CudaError> {
        let held = self.hold_stream(builtins)?;
        if flush {
            self.flush_l2(builtins)?;
        }
        self.start.record(&self.stream).map_err(CudaError::driver("recording an event"))?;
        let per_launch = match timed {
            Timed::Launch(kernel, args) => {
                kernel.launch(&self.stream, args)?;
                1.0
            }
            Timed::Graph(graph) => {
                graph.launch().map_err(CudaError::driver("replaying the graph"))?;
                GRAPH_LAUNCHES as f64
            }
        };
        self.end.record(&self.stream).map_err(CudaError::driver("recording an event"))?;
        held.release()?;
        let ms = self.start.elapsed_ms(&self.end).map_err(CudaError::driver("reading event times"))?;
        Ok(f64::from(ms) * 1e6 / per_launch)
    }

    /// Single-launch samples of several kernels in the given order, each flushed cold first: the
    /// interleaved rounds of an A/B comparison.
    pub(crate) fn sequence(
        &self,
        builtins: &Builtins,
        launches: &[(&Kernel, &[KernelArg])],
    ) -> Result<Vec<f64>, CudaError> {
        launches
            .iter()
            .map(|&(kernel, args)| self.sample(builtins, Timed::Launch(kernel, args), true))
            .collect()
    }

    fn capture(&self, kernel: &Kernel, args: &[KernelArg]) -> Result<cudarc::driver::CudaGraph, CudaError> {
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

    /// Warms up, then samples until the stopping rule is met. Samples rotate over the argument `sets`
    /// (the same buffers' contents at different addresses); graph timing captures the first.
    pub fn measure(
        &self,
        builtins: &Builtins,
        kernel: &Kernel,
        sets: &[&[KernelArg]],
        settings: &MeasureSettings,
        mode: TimingMode,
        monitor: Option<&Monitor>,
    ) -> Result<Timing, CudaError> {
        let first =
            *sets.first().ok_or_else(|| CudaError::Setup("no buffers to time the kernel on".into()))?;
        let graph = if mode == TimingMode::Graph { Some(self.capture(kernel, first)?) } else { None };
        let flush = mode == TimingMode::Cold;
        // Samples taken so far, warm-up included: sample i runs on set i mod the number of sets.
        let taken = std::cell::Cell::new(0usize);
        let run_batch = |count: usize| {
            (0..count)
                .map(|_| {
                    let timed = match &graph {
                        Some(graph) => Timed::Graph(graph),
                        None => Timed::Launch(kernel, sets[taken.get() % sets.len()]),
                    };
                    taken.set(taken.get() + 1);
                    self.sample(builtins, timed, flush)
                })
                .collect::<Result<Vec<_>, _>>()
        };

        // Warm-up: at least warmup_ms, then until the SM clock stops rising.
        let warmup = limits::duration(settings.warmup_ms / 1000.0);
        let cap = limits::duration(warmup.as_secs_f64() * WARMUP_CAP_FACTOR).max(Duration::from_millis(500));
        let start = Instant::now();
        let mut last_clock = None;
        loop {
            run_batch(BATCH)?;
            let elapsed = start.elapsed();
            if elapsed < warmup {
                continue;
            }
            let clock = monitor.and_then(|m| m.sm_clock_mhz().ok());
            let rising = matches!((last_clock, clock), (Some(a), Some(b)) if b > a)
                || (last_clock.is_none() && clock.is_some());
            last_clock = clock;
            if !rising || elapsed >= cap {
                break;
            }
        }

        let mut timing = Timing {
            samples_ns: Vec::new(),
            sm_clock_mhz: Vec::new(),
            throttled_samples: 0,
            throttle_reasons: BTreeSet::new(),
            mode,
            converged: false,
            rel_ci: None,
        };
        let max_time = limits::duration(settings.max_time_s);
        let max_samples = settings.max_samples.max(1);
        let start = Instant::now();
        loop {
            let count = BATCH.min(max_samples - timing.samples_ns.len());
            let samples = run_batch(count)?;
            timing.samples_ns.extend(samples);
            if let Some(monitor) = monitor {
                if let Ok(clock) = monitor.sm_clock_mhz() {
                    timing.sm_clock_mhz.push(clock);
                }
                if let Ok(reasons) = monitor.throttle_reasons() {
                    if is_throttling(&reasons) {
                        timing.throttled_samples += count;
                    }
                    timing
                        .throttle_reasons
                        .extend(reasons.into_iter().filter(|r| is_throttling(std::slice::from_ref(r))));
                }
            }
            let n = timing.samples_ns.len();
            // Too few samples for an interval at the stopping confidence count as not converged.
            timing.rel_ci = Sample::new(&timing.samples_ns)
                .ok()
                .and_then(|sample| median_ci(&sample, STOP_CONFIDENCE).ok())
                .filter(|ci| ci.coverage >= STOP_CONFIDENCE)
                .map(|ci| (ci.median - ci.low).max(ci.high - ci.median) / ci.median);
            if n >= settings.min_samples && timing.rel_ci.is_some_and(|r| r <= settings.target_rel_ci) {
                timing.converged = true;
                break;
            }
            if n >= max_samples || start.elapsed() >= max_time {
                break;
            }
        }
        Ok(timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_follows_settings_unless_graph_is_asked_for() {
        let mut settings = MeasureSettings::default();
        assert_eq!(TimingMode::for_settings(false, &settings), TimingMode::Cold);
        settings.warm_cache = true;
        assert_eq!(TimingMode::for_settings(false, &settings), TimingMode::Warm);
        assert_eq!(TimingMode::for_settings(true, &settings), TimingMode::Graph);
        assert_eq!(TimingMode::Graph.as_str(), "graph");
    }

    #[test]
    fn notes_flag_throttling_and_unmet_targets() {
        let settings = MeasureSettings::default();
        let mut timing = Timing {
            samples_ns: vec![1.0; 32],
            sm_clock_mhz: vec![1980, 1980],
            throttled_samples: 16,
            throttle_reasons: ["sw_power_cap".to_owned()].into(),
            mode: TimingMode::Cold,
            converged: true,
            rel_ci: Some(0.001),
        };
        assert!(timing.notes(&settings).is_empty(), "half throttled is not most");
        timing.throttled_samples = 17;
        timing.converged = false;
        timing.rel_ci = Some(0.0123);
        let notes = timing.notes(&settings);
        assert!(notes[0].contains("17 of 32 samples (sw_power_cap)"), "{notes:?}");
        assert!(notes[1].contains("reached ±1.23%"), "{notes:?}");
    }
}
