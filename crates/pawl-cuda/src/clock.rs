//! The kernel clock: each timed kernel's own start and end, as the GPU stamps them and CUPTI's activity
//! records report them (what Nsight Systems shows), in place of a pair of CUDA events around the launch.
//!
//! Why: on the H200 an event pair around a flushed launch reads the kernel plus about 2.5 µs of launch
//! and event overhead, and that overhead is 0.1–0.2 µs larger in some processes than in others, whatever
//! the kernel. Two runs of the same code then differ by 3–5% on kernels of a few µs. The kernels' own
//! timestamps moved by under 10 ns between the same processes (`timing_study --factors`,
//! docs/measurement.md "Which clock").
//!
//! Where CUPTI 13 is missing (or `PAWL_CLOCK=events`), pawl times with events as before. The clock is
//! part of the testbed, so figures of one clock are never compared with figures of the other.

use std::sync::{Mutex, OnceLock};

use cudarc::cupti::{result::activity, sys as cupti};
use pawl_core::run::Clock;

use crate::error::CudaError;
use crate::libraries::CUPTI;

/// The environment variable that chooses the clock: `events`, `kernel`, or `auto` (the default).
pub const SETTING: &str = "PAWL_CLOCK";

/// The CUPTI API versions whose kernel records are `CUpti_ActivityKernel10` (CUDA 13.x).
const CUPTI_VERSIONS: std::ops::Range<u32> = 130_000..140_000;

/// The clock this process times with, and why, decided once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub clock: Clock,
    /// Why, in words: where CUPTI was found, or why events are used.
    pub why: String,
}

/// The clock of this process: `PAWL_CLOCK=events` or `kernel` outright; otherwise the kernel clock
/// where CUPTI 13 is found, else events. pawl hands its choice to its CUDA workers through the same
/// variable ([`crate::workers::Worker`]), so a run's environment names the clock that took its samples.
pub fn choice() -> &'static Choice {
    static CHOICE: OnceLock<Choice> = OnceLock::new();
    CHOICE.get_or_init(|| {
        let setting = std::env::var(SETTING).unwrap_or_default();
        match setting.trim() {
            "events" => Choice { clock: Clock::Events, why: format!("{SETTING}=events") },
            "kernel" => Choice { clock: Clock::Kernel, why: format!("{SETTING}=kernel") },
            _ => match cupti_usable() {
                Ok(place) => Choice { clock: Clock::Kernel, why: format!("CUPTI from {place}") },
                Err(why) => Choice { clock: Clock::Events, why },
            },
        }
    })
}

/// The clock's name as [`SETTING`] takes it.
pub fn setting_value(clock: Clock) -> &'static str {
    match clock {
        Clock::Events => "events",
        Clock::Kernel => "kernel",
    }
}

/// Where a CUPTI of CUDA 13 was found, or why none can be used.
fn cupti_usable() -> Result<String, String> {
    let found = CUPTI.locate().map_err(|missing| missing.message())?;
    let version = cupti_version()?;
    if !CUPTI_VERSIONS.contains(&version) {
        return Err(format!(
            "the CUPTI found ({}) has API version {version}, not CUDA 13's; install `{}` or set {} to \
             libcupti.so.13",
            found.place, CUPTI.names.wheel, CUPTI.names.setting
        ));
    }
    Ok(found.place.clone())
}

fn cupti_version() -> Result<u32, String> {
    let mut version = 0u32;
    // SAFETY: CUPTI is loaded (located above); one u32 out-pointer, valid for the call.
    unsafe { cupti::cuptiGetVersion(&mut version) }
        .result()
        .map_err(|e| format!("CUPTI did not report its version: {e:?}"))?;
    Ok(version)
}

/// One kernel as CUPTI recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSpan {
    /// Start and end, in CUPTI's nanosecond timestamps.
    pub start_ns: u64,
    pub end_ns: u64,
    pub name: String,
}

/// The kernels CUPTI has delivered and nobody has taken yet.
static DELIVERED: Mutex<Vec<KernelSpan>> = Mutex::new(Vec::new());
/// Bytes per activity buffer handed to CUPTI.
const BUFFER_BYTES: usize = 4 << 20;

/// Kernel records of this process, from CUPTI's activity API (one per process: CUPTI's activity
/// collection is process-wide).
#[derive(Debug)]
pub struct KernelClock {
    _started: (),
}

impl KernelClock {
    /// Starts recording every kernel of the process. Call before the CUDA context is made.
    pub fn start() -> Result<KernelClock, CudaError> {
        static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
        let started = STARTED.get_or_init(|| {
            cupti_usable()?;
            activity::register_callbacks(Some(buffer_requested), Some(buffer_completed))
                .and_then(|()| {
                    activity::enable(cupti::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL)
                })
                .map_err(|e| format!("CUPTI would not record kernels: {e:?}"))
        });
        match started {
            Ok(()) => Ok(KernelClock { _started: () }),
            Err(why) => Err(CudaError::Setup(format!(
                "the kernel clock cannot start: {why}; set {SETTING}=events to time with CUDA events instead"
            ))),
        }
    }

    /// The kernels that completed since the last call, in start order. Call after synchronizing.
    pub fn take(&self) -> Result<Vec<KernelSpan>, CudaError> {
        activity::flush_all(cupti::CUpti_ActivityFlag::CUPTI_ACTIVITY_FLAG_FLUSH_FORCED as u32)
            .map_err(|e| CudaError::Setup(format!("CUPTI could not deliver its kernel records: {e:?}")))?;
        let mut spans = std::mem::take(&mut *DELIVERED.lock().unwrap_or_else(|e| e.into_inner()));
        spans.sort_by_key(|s| (s.start_ns, s.end_ns));
        Ok(spans)
    }
}

/// The nanoseconds the timed work of one sample took: from the first start to the last end of the
/// kernels that ran after the last of pawl's own (`is_own`: the blocking kernel, resets, the L2 flush,
/// which every sample runs before its timed work). `None` when no such kernel was recorded.
pub fn timed_span_ns(spans: &[KernelSpan], is_own: impl Fn(&str) -> bool) -> Option<f64> {
    let after_own = spans.iter().rposition(|s| is_own(&s.name)).map_or(0, |i| i + 1);
    let timed = &spans[after_own..];
    let start = timed.iter().map(|s| s.start_ns).min()?;
    let end = timed.iter().map(|s| s.end_ns).max()?;
    Some(end.saturating_sub(start) as f64)
}

fn buffer_layout() -> std::alloc::Layout {
    std::alloc::Layout::from_size_align(BUFFER_BYTES, 8).expect("a valid layout")
}

unsafe extern "C" fn buffer_requested(buffer: *mut *mut u8, size: *mut usize, max_records: *mut usize) {
    // SAFETY: CUPTI passes valid out-pointers; the buffer is freed in `buffer_completed`.
    unsafe {
        *buffer = std::alloc::alloc(buffer_layout());
        *size = if (*buffer).is_null() { 0 } else { BUFFER_BYTES };
        *max_records = 0;
    }
}

unsafe extern "C" fn buffer_completed(
    _context: cudarc::driver::sys::CUcontext,
    _stream: u32,
    buffer: *mut u8,
    _size: usize,
    valid: usize,
) {
    if buffer.is_null() {
        return;
    }
    let mut record: *mut cupti::CUpti_Activity = std::ptr::null_mut();
    let mut delivered = DELIVERED.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: `buffer` holds `valid` bytes of records written by CUPTI; the kernel records of CUDA 13's
    // CUPTI (the versions `cupti_usable` accepts) are CUpti_ActivityKernel10, whose name is a
    // NUL-terminated string CUPTI owns (or null).
    unsafe {
        while activity::get_next_record(buffer, valid, &mut record).is_ok() {
            if (*record).kind == cupti::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL {
                let kernel = &*(record as *const cupti::CUpti_ActivityKernel10);
                let name = match kernel.name.is_null() {
                    true => String::new(),
                    false => std::ffi::CStr::from_ptr(kernel.name).to_string_lossy().into_owned(),
                };
                delivered.push(KernelSpan { start_ns: kernel.start, end_ns: kernel.end, name });
            }
        }
        std::alloc::dealloc(buffer, buffer_layout());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str, start_ns: u64, end_ns: u64) -> KernelSpan {
        KernelSpan { start_ns, end_ns, name: name.to_owned() }
    }

    fn own(name: &str) -> bool {
        name.starts_with("pawl_")
    }

    #[test]
    fn the_timed_kernel_is_the_one_after_pawls_own() {
        let spans = [
            span("copy", 10, 20), // the correctness check, before sampling
            span("pawl_block", 100, 900),
            span("pawl_flush", 910, 1500),
            span("copy", 1600, 2800),
        ];
        assert_eq!(timed_span_ns(&spans, own), Some(1200.0));
    }

    #[test]
    fn several_timed_kernels_span_from_the_first_start_to_the_last_end() {
        let spans = [span("pawl_block", 0, 50), span("gemm_a", 100, 300), span("gemm_b", 310, 700)];
        assert_eq!(timed_span_ns(&spans, own), Some(600.0));
    }

    #[test]
    fn no_timed_kernel_is_none() {
        assert_eq!(timed_span_ns(&[span("pawl_block", 0, 50), span("pawl_flush", 60, 90)], own), None);
        assert_eq!(timed_span_ns(&[], own), None);
    }

    #[test]
    fn without_pawls_own_every_kernel_is_timed() {
        assert_eq!(timed_span_ns(&[span("k", 5, 9)], own), Some(4.0));
    }
}
