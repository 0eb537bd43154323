//! Where the time around a timed kernel goes: the figures behind pawl's timing scheme
//! (docs/measurement.md, "Why one sample per hold").
//!
//! The same launches are timed under several enqueue schemes, with CUDA events (what pawl reports) and,
//! with `--cupti`, also with CUPTI's timestamps of the kernel itself. Each scheme is a blocking kernel
//! holding the stream while samples are enqueued behind it, as in `timing.rs`:
//!
//! - `hold1`, `hold4`, `hold16`: 1, 4 or 16 samples (flush, start event, kernel, end event) per hold;
//! - `warm16`: 16 per hold, no flush;
//! - `events1`, `events16`: an event pair around nothing, 1 or 16 per hold: the events' own cost.
//!
//! ```text
//! timing_study [--cupti]        # CSV on stdout: scheme, case, samples, medians (ns), p10, p90
//! timing_study --launch-only    # every case 5 times after a flush, untimed, for ncu
//! timing_study --factors [--cupti]  # what moves a process's small-kernel medians (below)
//! ```
//!
//! `--factors` asks where the offset between processes comes from: kernels of a few µs read 0.1–0.2 µs
//! more in one process than in another, whatever the kernel. Inside one process it swaps, one at a
//! time, each thing a process owns for a fresh one — the stream, the L2 flush buffer, the event pair,
//! the loaded module (the kernel's code address), the data's placement — and times the small cases
//! (one sample per hold, flushed) under each of [`INCARNATIONS`] copies; `base` repeats the untouched
//! setup as the noise floor, and `rotate_*` rotates sample by sample over all copies of one factor. A
//! factor whose copies spread as far as processes do is the cause; its `rotate_*` row, compared across
//! processes, is what rotating over it would leave.
//! It needs libcuda, libnvrtc and (with `--cupti`) libcupti on the library path.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cudarc::driver::sys::{CUdevice_attribute, CUevent_flags};
use cudarc::driver::{
    CudaContext, CudaEvent, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PinnedHostSlice,
    PushKernelArg,
};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};
use pawl_cuda::clock::KernelClock;

type Res<T> = Result<T, Box<dyn Error>>;

/// pawl's own L2 flush and blocking kernel, so the study times exactly what `timing.rs` runs.
const BUILTIN: &str = include_str!("../src/builtin.cu");
/// As in `timing.rs`: the blocking kernel gives up after 10 s.
const BLOCK_TIMEOUT_NS: u64 = 10_000_000_000;

/// The kernels timed.
const SOURCE: &str = r#"
typedef unsigned long long u64;
extern "C" __global__ void copy_vec4(const float4* __restrict__ x, float4* __restrict__ y, long long n4) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n4) y[i] = x[i];
}
extern "C" __global__ void fma_chain(const float* __restrict__ x, float* __restrict__ y, long long iters) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    const float m = 0.999f, k = 0.001f;
    float a = x[i], b = a * 0.5f + 1.0f, c = a - 1.0f, d = a * 0.25f;
    for (long long t = 0; t < iters; ++t) { a = fmaf(a, m, k); b = fmaf(b, m, k); c = fmaf(c, m, k); d = fmaf(d, m, k); }
    y[i] = a + b + c + d;
}
extern "C" __global__ void empty(const float* x, float* y, long long unused) {}
extern "C" __global__ void fill(float* y, u64 n) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        y[i] = (float)((i * 2654435761ull) % 1000) * 0.001f;
}
"#;

/// Samples per scheme and case, after 60 ms of warm-up.
const SAMPLES: usize = 320;
const MAX_PER_HOLD: usize = 16;

/// One kernel launch to time.
struct Case {
    name: String,
    /// The kernel's name, as CUPTI reports it.
    kernel: &'static str,
    function: CudaFunction,
    grid: u32,
    /// The kernel's third argument: float4 count, FMA iterations, or unused.
    scalar: i64,
}

/// An enqueue scheme.
#[derive(Clone, Copy)]
struct Scheme {
    name: &'static str,
    per_hold: usize,
    flush: bool,
    kernel: bool,
}

const SCHEMES: [Scheme; 6] = [
    Scheme { name: "hold1", per_hold: 1, flush: true, kernel: true },
    Scheme { name: "hold4", per_hold: 4, flush: true, kernel: true },
    Scheme { name: "hold16", per_hold: 16, flush: true, kernel: true },
    Scheme { name: "warm16", per_hold: 16, flush: false, kernel: true },
    Scheme { name: "events1", per_hold: 1, flush: false, kernel: false },
    Scheme { name: "events16", per_hold: 16, flush: false, kernel: false },
];

struct Gpu {
    stream: Arc<CudaStream>,
    flush: CudaFunction,
    block: CudaFunction,
    flush_buf: CudaSlice<u8>,
    sink: CudaSlice<u32>,
    flag: PinnedHostSlice<u32>,
    flag_device: u64,
    starts: Vec<CudaEvent>,
    ends: Vec<CudaEvent>,
    sm_count: u32,
    x: CudaSlice<f32>,
    y: CudaSlice<f32>,
    /// Where in `x` and `y` the timed kernels start, in floats (the data's placement).
    offset: u64,
}

impl Gpu {
    fn set_flag(&self, value: u32) -> Res<()> {
        let ptr = self.flag.as_ptr()?.cast_mut();
        // SAFETY: one live, aligned u32 of page-locked memory that the blocking kernel reads.
        unsafe { std::ptr::write_volatile(ptr, value) };
        Ok(())
    }

    fn launch(&self, function: &CudaFunction, grid: u32, block: u32, args: &[&dyn Arg]) -> Res<()> {
        let mut builder = self.stream.launch_builder(function);
        for arg in args {
            arg.push(&mut builder);
        }
        let cfg = LaunchConfig { grid_dim: (grid, 1, 1), block_dim: (block, 1, 1), shared_mem_bytes: 0 };
        // SAFETY: every kernel of SOURCE is launched with the arguments its signature declares, over
        // live buffers of the sizes it indexes.
        unsafe { builder.launch(cfg) }?;
        Ok(())
    }

    fn flush_l2(&self) -> Res<()> {
        let (buf, _a) = self.flush_buf.device_ptr(&self.stream);
        let (sink, _b) = self.sink.device_ptr(&self.stream);
        let n16 = (self.flush_buf.len() / 16) as u64;
        self.launch(&self.flush, self.sm_count * 4, 512, &[&buf, &n16, &sink])
    }

    fn run_case(&self, case: &Case) -> Res<()> {
        let (x, _a) = self.x.device_ptr(&self.stream);
        let (y, _b) = self.y.device_ptr(&self.stream);
        let (x, y) = (x + 4 * self.offset, y + 4 * self.offset);
        self.launch(&case.function, case.grid, 256, &[&x, &y, &case.scalar])
    }

    /// `count` samples of `scheme`, in event nanoseconds.
    fn samples(&self, case: &Case, scheme: Scheme, count: usize) -> Res<Vec<f64>> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let n = scheme.per_hold.min(count - out.len());
            self.set_flag(0)?;
            self.launch(&self.block, 1, 1, &[&self.flag_device, &BLOCK_TIMEOUT_NS])?;
            for i in 0..n {
                if scheme.flush {
                    self.flush_l2()?;
                }
                self.starts[i].record(&self.stream)?;
                if scheme.kernel {
                    self.run_case(case)?;
                }
                self.ends[i].record(&self.stream)?;
            }
            self.set_flag(1)?;
            self.stream.synchronize()?;
            for i in 0..n {
                out.push(f64::from(self.starts[i].elapsed_ms(&self.ends[i])?) * 1e6);
            }
        }
        Ok(out)
    }
}

/// A kernel argument of any type the builder takes.
trait Arg {
    fn push<'a>(&'a self, builder: &mut cudarc::driver::LaunchArgs<'a>);
}

impl<T: cudarc::driver::DeviceRepr> Arg for T {
    fn push<'a>(&'a self, builder: &mut cudarc::driver::LaunchArgs<'a>) {
        builder.arg(self);
    }
}

/// Durations (ns) of the kernels named `name` that CUPTI recorded since the last call, in start order
/// (an empty `name` takes every kernel, to start afresh).
fn cupti_durations(clock: &KernelClock, name: &str) -> Res<Vec<f64>> {
    Ok(clock
        .take()?
        .into_iter()
        .filter(|k| name.is_empty() || k.name == name)
        .map(|k| (k.end_ns - k.start_ns) as f64)
        .collect())
}

/// The CSV columns `samples,event_median_ns,cupti_median_ns,event_p10_ns,event_p90_ns` of sorted samples.
fn stat_columns(events: &[f64], kernels: &[f64]) -> String {
    let (p10, p90) = (quantile(events, 0.1), quantile(events, 0.9));
    format!("{},{:.1},{:.1},{p10:.0},{p90:.0}", events.len(), median(events), median(kernels))
}

/// The `q` quantile of sorted values (the nearest rank), NaN for none.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The median of sorted values, as pawl computes it (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Copies of each factor in `--factors`.
const INCARNATIONS: usize = 6;
/// Samples per measurement in `--factors`, after [`FACTOR_WARMUP`].
const FACTOR_SAMPLES: usize = 240;
const FACTOR_WARMUP: Duration = Duration::from_millis(20);
/// The data placements of `--factors`, in floats: 16 MiB apart, plus a few KiB so that they do not
/// all start at the same offset within a page.
const PLACEMENT_STEP: u64 = (4 << 20) + 1024;

/// What a process owns that `--factors` swaps for a fresh copy.
#[derive(Clone, Copy, PartialEq)]
enum Factor {
    Base,
    Stream,
    Flush,
    Events,
    Module,
    Placement,
}

const FACTORS: [(Factor, &str); 6] = [
    (Factor::Base, "base"),
    (Factor::Stream, "stream"),
    (Factor::Flush, "flush"),
    (Factor::Events, "events"),
    (Factor::Module, "module"),
    (Factor::Placement, "placement"),
];

/// The fresh copies `--factors` swaps in; copy `k` of every factor.
struct Copies {
    streams: Vec<Arc<CudaStream>>,
    flushes: Vec<CudaSlice<u8>>,
    events: Vec<(Vec<CudaEvent>, Vec<CudaEvent>)>,
    /// Per copy, each case's function from that copy's module.
    functions: Vec<Vec<CudaFunction>>,
}

impl Copies {
    /// Swaps copy `k` of `factor` into `gpu` (and `cases`); calling it again swaps it back.
    fn swap(&mut self, factor: Factor, k: usize, gpu: &mut Gpu, cases: &mut [Case]) {
        match factor {
            Factor::Base => {}
            Factor::Stream => std::mem::swap(&mut gpu.stream, &mut self.streams[k]),
            Factor::Flush => std::mem::swap(&mut gpu.flush_buf, &mut self.flushes[k]),
            Factor::Events => {
                let (starts, ends) = &mut self.events[k];
                std::mem::swap(&mut gpu.starts, starts);
                std::mem::swap(&mut gpu.ends, ends);
            }
            Factor::Module => {
                for (case, function) in cases.iter_mut().zip(&mut self.functions[k]) {
                    std::mem::swap(&mut case.function, function);
                }
            }
            Factor::Placement => {
                gpu.offset = if gpu.offset == 0 { (k as u64 + 1) * PLACEMENT_STEP } else { 0 }
            }
        }
    }
}

/// Each small case's event median (and CUPTI's, with `--cupti`) as it stands, or rotated sample by
/// sample over every copy of `rotate`: one CSV row per case.
fn measure_factor(
    gpu: &mut Gpu,
    cases: &mut [Case],
    copies: &mut Copies,
    row: (&str, &str),
    rotate: Option<Factor>,
    clock: Option<&KernelClock>,
) -> Res<()> {
    let hold1 = SCHEMES[0];
    for index in 0..cases.len() {
        let warm = Instant::now();
        while warm.elapsed() < FACTOR_WARMUP {
            gpu.samples(&cases[index], hold1, MAX_PER_HOLD)?;
        }
        if let Some(clock) = clock {
            cupti_durations(clock, "")?;
        }
        let mut events = Vec::with_capacity(FACTOR_SAMPLES);
        match rotate {
            None => events = gpu.samples(&cases[index], hold1, FACTOR_SAMPLES)?,
            Some(factor) => {
                for i in 0..FACTOR_SAMPLES {
                    let k = i % INCARNATIONS;
                    copies.swap(factor, k, gpu, cases);
                    let sample = gpu.samples(&cases[index], hold1, 1);
                    copies.swap(factor, k, gpu, cases);
                    events.extend(sample?);
                }
            }
        }
        let mut kernels = match clock {
            Some(clock) => cupti_durations(clock, cases[index].kernel)?,
            None => Vec::new(),
        };
        events.sort_by(f64::total_cmp);
        kernels.sort_by(f64::total_cmp);
        println!("{},{},{},{}", row.0, row.1, cases[index].name, stat_columns(&events, &kernels));
    }
    Ok(())
}

/// `--factors`: per factor and copy, then rotated over all copies of each factor. CSV on stdout.
fn factors(gpu: &mut Gpu, cases: &mut [Case], copies: &mut Copies, clock: Option<&KernelClock>) -> Res<()> {
    println!("factor,copy,case,samples,event_median_ns,cupti_median_ns,event_p10_ns,event_p90_ns");
    // Copies interleaved with each other, so that a slow drift in time spreads over every factor alike.
    for k in 0..INCARNATIONS {
        for (factor, label) in FACTORS {
            copies.swap(factor, k, gpu, cases);
            let measured = measure_factor(gpu, cases, copies, (label, &k.to_string()), None, clock);
            copies.swap(factor, k, gpu, cases);
            measured?;
        }
    }
    for (factor, label) in &FACTORS[1..] {
        measure_factor(gpu, cases, copies, (&format!("rotate_{label}"), "all"), Some(*factor), clock)?;
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let launch_only = args.iter().any(|a| a == "--launch-only");
    let factor_study = args.iter().any(|a| a == "--factors");
    let with_cupti = args.iter().any(|a| a == "--cupti");
    let clock = if with_cupti { Some(KernelClock::start()?) } else { None };
    let ctx = CudaContext::new(0)?;
    // SAFETY: this program synchronizes its one stream before reading results.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.new_stream()?;
    let compile = |source| {
        compile_ptx_with_opts(source, CompileOptions { arch: Some("compute_90"), ..Default::default() })
    };
    let ptx = compile(SOURCE)?;
    let module = ctx.load_module(ptx.clone())?;
    let builtin = ctx.load_module(compile(BUILTIN)?)?;
    let l2 = ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as usize;
    let sm_count = ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32;

    let max_floats: usize = 1 << 26;
    let x = stream.alloc_zeros::<f32>(max_floats)?;
    let y = stream.alloc_zeros::<f32>(max_floats)?;
    let flags =
        cudarc::driver::sys::CU_MEMHOSTALLOC_DEVICEMAP | cudarc::driver::sys::CU_MEMHOSTALLOC_PORTABLE;
    // SAFETY: one u32, written (set_flag) before the GPU reads it.
    let mut flag = unsafe { ctx.alloc_pinned_with_flags::<u32>(1, flags) }?;
    let mut flag_device = 0u64;
    // SAFETY: `flag` is a live page-locked allocation made with DEVICEMAP.
    unsafe {
        cudarc::driver::sys::cuMemHostGetDevicePointer_v2(&mut flag_device, flag.as_mut_ptr()?.cast(), 0)
    }
    .result()?;
    let event = || ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT));
    let mut gpu = Gpu {
        stream: stream.clone(),
        flush: builtin.load_function("pawl_flush")?,
        block: builtin.load_function("pawl_block")?,
        flush_buf: stream.alloc_zeros::<u8>(2 * l2)?,
        sink: stream.alloc_zeros::<u32>(1)?,
        flag,
        flag_device,
        starts: (0..MAX_PER_HOLD).map(|_| event()).collect::<Result<_, _>>()?,
        ends: (0..MAX_PER_HOLD).map(|_| event()).collect::<Result<_, _>>()?,
        sm_count,
        x,
        y,
        offset: 0,
    };
    let fill = module.load_function("fill")?;
    for buf in [&gpu.x, &gpu.y] {
        let (ptr, _g) = buf.device_ptr(&stream);
        gpu.launch(&fill, 1024, 256, &[&ptr, &(max_floats as u64)])?;
    }
    stream.synchronize()?;

    let (copy, fma, empty) = (
        module.load_function("copy_vec4")?,
        module.load_function("fma_chain")?,
        module.load_function("empty")?,
    );
    let mut cases = Vec::new();
    for log2 in [16, 18, 20, 22, 24, 26] {
        let float4s: u32 = (1 << log2) / 4;
        let grid = float4s.div_ceil(256);
        cases.push(Case {
            name: format!("copy_2^{log2}"),
            kernel: "copy_vec4",
            function: copy.clone(),
            grid,
            scalar: i64::from(float4s),
        });
    }
    for iters in [8, 32, 320, 3200] {
        cases.push(Case {
            name: format!("fma_{iters}"),
            kernel: "fma_chain",
            function: fma.clone(),
            grid: 4096,
            scalar: iters,
        });
    }
    cases.push(Case { name: "empty".into(), kernel: "empty", function: empty, grid: 1, scalar: 0 });

    if factor_study {
        let small = ["empty", "copy_2^16", "copy_2^20", "fma_8", "fma_320"];
        let mut cases: Vec<Case> = cases.into_iter().filter(|c| small.contains(&c.name.as_str())).collect();
        let mut copies =
            Copies { streams: Vec::new(), flushes: Vec::new(), events: Vec::new(), functions: Vec::new() };
        for _ in 0..INCARNATIONS {
            copies.streams.push(ctx.new_stream()?);
            copies.flushes.push(stream.alloc_zeros::<u8>(2 * l2)?);
            copies.events.push((vec![event()?], vec![event()?]));
            let module = ctx.load_module(ptx.clone())?;
            copies
                .functions
                .push(cases.iter().map(|c| module.load_function(c.kernel)).collect::<Result<_, _>>()?);
        }
        return factors(&mut gpu, &mut cases, &mut copies, clock.as_ref());
    }
    if launch_only {
        for case in &cases {
            for _ in 0..5 {
                gpu.flush_l2()?;
                gpu.run_case(case)?;
            }
            stream.synchronize()?;
        }
        return Ok(());
    }

    println!("scheme,case,samples,event_median_ns,cupti_median_ns,event_p10_ns,event_p90_ns");
    for scheme in SCHEMES {
        let cases_here = if scheme.kernel { &cases[..] } else { &cases[cases.len() - 1..] };
        for case in cases_here {
            let warm = Instant::now();
            while warm.elapsed() < Duration::from_millis(60) {
                gpu.samples(case, scheme, MAX_PER_HOLD)?;
            }
            if let Some(clock) = &clock {
                cupti_durations(clock, "")?;
            }
            let mut events = gpu.samples(case, scheme, SAMPLES)?;
            let mut kernels = match (&clock, scheme.kernel) {
                (Some(clock), true) => cupti_durations(clock, case.kernel)?,
                _ => Vec::new(),
            };
            events.sort_by(f64::total_cmp);
            kernels.sort_by(f64::total_cmp);
            let case_name = if scheme.kernel { case.name.as_str() } else { "none" };
            println!("{},{case_name},{}", scheme.name, stat_columns(&events, &kernels));
        }
    }
    Ok(())
}
