//! Lanes: one per GPU (`--gpus`), each a CUDA worker and the `command` benches' harness processes, all
//! pinned to its GPU with `CUDA_VISIBLE_DEVICES`; without `--gpus`, one lane on whatever GPU the driver
//! shows first. [`measure`] hands cases out to them in a given order (longest first) and reports each
//! result on the caller's thread as it comes: what `pawl run`, `check` and `ratchet` measure with, and
//! what any command that measures cases over GPUs (autotuning) measures with.
//!
//! A lane takes the next case whenever it has finished one, so a GPU that is throttled or slow simply
//! measures fewer cases, and a fault or a hang fails only its case (the lane's worker is started again
//! on the same GPU). A lane whose GPU cannot be opened at all gives its case back to the others and
//! stops.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsString;
use std::sync::{Condvar, Mutex, mpsc};

use anyhow::Result;
use pawl_core::engine::{self, SystemClock};
use pawl_core::plan::PlannedCase;
use pawl_core::run::{CaseResult, CaseStatus, RunWarning};
use pawl_core::suite::limits;
use pawl_core::suite::{Bench, BenchKind, MeasureSettings};
use pawl_cuda::devices::Device;
use pawl_cuda::protocol::Request;
use pawl_cuda::workers::{Answer, Worker};

use crate::gpus;
use crate::harness::HarnessBackend;

/// Measures every job on one lane per place (`None`: unpinned), handing them out in `order` (indices
/// into `jobs`), and calls `on_event` on this thread with each result and warning as it comes. Every
/// job gets exactly one result. `worker` starts a CUDA worker ([`worker_argv`](crate::measure::worker_argv)).
pub fn measure(
    worker: &[OsString],
    jobs: &[Job],
    order: Vec<usize>,
    places: &[Option<Device>],
    settings: &MeasureSettings,
    on_event: &mut dyn FnMut(Event),
) -> Result<()> {
    let queue = Queue::new(order, places.len().max(1));
    let mut answered = vec![false; jobs.len()];
    std::thread::scope(|scope| {
        let (events, received) = mpsc::channel::<Event>();
        for place in places {
            let lane =
                Lane { place: place.as_ref(), jobs, queue: &queue, settings, worker, events: events.clone() };
            scope.spawn(move || lane.run());
        }
        drop(events);
        for event in received {
            if let Event::Result(slot, _) = &event {
                answered[*slot] = true;
            }
            on_event(event);
        }
    });
    // Every lane answers every case it takes; this only guards against a case no lane took.
    for (slot, job) in jobs.iter().enumerate().filter(|(slot, _)| !answered[*slot]) {
        let mut failed = CaseResult::planned(&job.case, CaseStatus::Failed);
        failed.error = Some("not measured: no GPU's worker could take it".to_owned());
        on_event(Event::Result(slot, Box::new(failed)));
    }
    Ok(())
}

/// A planned case with its bench.
#[derive(Clone, Debug)]
pub struct Job<'s> {
    pub bench: &'s Bench,
    pub case: PlannedCase,
}

/// What the lanes report, on the caller's thread.
#[derive(Debug)]
pub enum Event {
    /// The result of the job with this index.
    Result(usize, Box<CaseResult>),
    /// Something the run should know that is no case's result (a harness broke its protocol, a GPU
    /// could not be opened).
    Warning(RunWarning),
}

/// The cases not yet taken, shared by the lanes, longest first.
///
/// A lane whose GPU cannot measure anything (its worker cannot open it) gives its case back and stops,
/// once: the other lanes measure it. A lane waits for work while others are busy, since one of them
/// may give a case back.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

#[derive(Debug)]
struct QueueState {
    waiting: VecDeque<usize>,
    /// Lanes measuring a case now.
    busy: usize,
    /// Lanes still taking cases.
    lanes: usize,
    /// Cases given back once already.
    given_back: BTreeSet<usize>,
}

impl Queue {
    fn new(order: Vec<usize>, lanes: usize) -> Queue {
        let state = QueueState { waiting: order.into(), busy: 0, lanes, given_back: BTreeSet::new() };
        Queue { state: Mutex::new(state), changed: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A lane that panicked cannot leave the queue half-changed: every change is one statement.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next case to measure, or `None` when every case is taken and no lane can give one back.
    fn take(&self) -> Option<usize> {
        let mut state = self.lock();
        loop {
            if let Some(slot) = state.waiting.pop_front() {
                state.busy += 1;
                return Some(slot);
            }
            if state.busy == 0 {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The case taken is answered.
    fn done(&self) {
        self.lock().busy -= 1;
        self.changed.notify_all();
    }

    /// Gives the case back for another lane and stops this one, if another lane is still taking cases
    /// and the case was not given back before; else `false`, and the lane answers the case itself.
    fn give_back(&self, slot: usize) -> bool {
        let mut state = self.lock();
        if state.lanes < 2 || !state.given_back.insert(slot) {
            return false;
        }
        state.waiting.push_front(slot);
        state.busy -= 1;
        state.lanes -= 1;
        drop(state);
        self.changed.notify_all();
        true
    }

    /// This lane takes no more cases.
    fn leave(&self) {
        self.lock().lanes -= 1;
    }
}

/// A lane's place at the queue: the case it holds and whether it still takes cases. Dropped (at the
/// lane's end, or should it panic) it gives up both, so that no other lane waits for it forever.
struct Seat<'q> {
    queue: &'q Queue,
    holding: bool,
    seated: bool,
}

impl<'q> Seat<'q> {
    fn new(queue: &'q Queue) -> Seat<'q> {
        Seat { queue, holding: false, seated: true }
    }

    fn take(&mut self) -> Option<usize> {
        let slot = self.queue.take();
        self.holding = slot.is_some();
        slot
    }

    fn done(&mut self) {
        self.holding = false;
        self.queue.done();
    }

    fn give_back(&mut self, slot: usize) -> bool {
        let given = self.queue.give_back(slot);
        if given {
            self.holding = false;
            self.seated = false;
        }
        given
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        if self.holding {
            self.queue.done();
        }
        if self.seated {
            self.queue.leave();
        }
    }
}

/// One GPU (or, without `--gpus`, whatever GPU the driver shows first) and its worker and harnesses.
struct Lane<'a> {
    place: Option<&'a Device>,
    jobs: &'a [Job<'a>],
    queue: &'a Queue,
    settings: &'a MeasureSettings,
    worker: &'a [OsString],
    events: mpsc::Sender<Event>,
}

impl Lane<'_> {
    fn run(self) {
        let pin = self.place.map(|device| device.uuid.as_str());
        let mut worker = Worker::new(self.worker);
        let mut harness = HarnessBackend::default();
        if let Some(uuid) = pin {
            worker = worker.env(gpus::PIN, uuid);
            harness = HarnessBackend::with_env(gpus::PIN, uuid);
        }
        let clock = SystemClock::new();
        let mut seat = Seat::new(self.queue);
        while let Some(slot) = seat.take() {
            let job = &self.jobs[slot];
            let mut result = match &job.bench.kind {
                BenchKind::Cuda(_) => match measure_cuda(&mut worker, job, self.settings) {
                    Ok(result) => result,
                    Err(message) if seat.give_back(slot) => {
                        let gpu = pin.unwrap_or("the GPU");
                        let warning = RunWarning {
                            case: Some(job.case.case.id.clone()),
                            message: format!(
                                "{gpu}: its worker could not measure ({message}); its cases went to the other GPUs"
                            ),
                        };
                        let _ = self.events.send(Event::Warning(warning));
                        break;
                    }
                    Err(message) => {
                        let mut failed = CaseResult::planned(&job.case, CaseStatus::Failed);
                        failed.error = Some(message);
                        failed
                    }
                },
                BenchKind::Command(_) => {
                    engine::measure_case(
                        &mut harness,
                        job.bench,
                        &job.case,
                        self.settings,
                        &clock,
                        &mut |_| {},
                    )
                    .result
                }
            };
            if let Some(uuid) = pin {
                result.gpu_uuid = Some(uuid.to_owned());
            }
            let _ = self.events.send(Event::Result(slot, Box::new(result)));
            seat.done();
        }
        drop(seat);
        harness.finish();
        for warning in std::mem::take(&mut harness.warnings) {
            let _ = self.events.send(Event::Warning(warning));
        }
        worker.finish();
    }
}

/// One case of a `cuda` bench, in the lane's worker (a fault or a hang fails only its case, and the
/// worker is started again); `Err` when the worker could not measure at all.
fn measure_cuda(worker: &mut Worker, job: &Job, settings: &MeasureSettings) -> Result<CaseResult, String> {
    let request = Request::Measure {
        bench: job.bench.clone(),
        cases: vec![job.case.clone()],
        settings: settings.clone(),
    };
    let watchdog = limits::duration(settings.timeout_s);
    let mut answered = None;
    worker
        .run(request, watchdog, &mut |answer| {
            if let Answer::Result(result) = answer {
                answered = Some(*result);
            }
        })
        .map_err(|e| e.0)?;
    answered.ok_or_else(|| "the CUDA worker never answered this case".to_owned())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use pawl_core::plan::{self, Selection};
    use pawl_core::suite::Suite;

    use super::*;

    /// The copy bench of examples/kernels: five cases (never compiled: the workers below stand in).
    fn suite() -> Suite {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kernels/pawl.toml");
        Suite::load(&path).unwrap()
    }

    /// A worker that cannot open the GPU `bad` and answers every case elsewhere.
    fn worker(bad: &str) -> Vec<OsString> {
        let script = format!(
            r#"
while read -r request; do
  if [ "$CUDA_VISIBLE_DEVICES" = "{bad}" ]; then
    echo '{{"kind":"fatal","message":"no NVIDIA driver/GPU found: the GPU fell off the bus"}}'; exit 2
  fi
  for n in $(echo "$request" | grep -o '"id":"copy/N=[0-9]*"' | grep -o '[0-9]*'); do
    printf '{{"kind":"started","case":"copy/N=%s"}}\n' "$n"
    printf '{{"kind":"result","result":{{"id":"copy/N=%s","bench":"copy","params":{{"N":%s}},"status":"ok","error":null,"samples_ns":[1000.0],"flops":null,"bytes":null,"correctness":null,"stats":null,"timing":"cold","kernel":null}}}}\n' "$n" "$n"
  done
  echo '{{"kind":"done"}}'
done"#
        );
        vec!["sh".into(), "-c".into(), script.into()]
    }

    fn place(uuid: &str) -> Option<Device> {
        Some(Device { uuid: uuid.into(), name: "Test GPU".into() })
    }

    fn run(bad: &str, places: &[Option<Device>]) -> (Vec<CaseResult>, Vec<RunWarning>) {
        let suite = suite();
        let plans = plan::plan(&suite, &Selection { bench: Some("copy"), filter: None }).unwrap();
        let jobs: Vec<Job> =
            plans[0].cases.iter().map(|case| Job { bench: plans[0].bench, case: case.clone() }).collect();
        let (mut results, mut warnings) = (vec![None; jobs.len()], Vec::new());
        let settings = MeasureSettings { timeout_s: 10.0, ..MeasureSettings::default() };
        measure(
            &worker(bad),
            &jobs,
            (0..jobs.len()).collect(),
            places,
            &settings,
            &mut |event| match event {
                Event::Result(slot, result) => {
                    assert!(results[slot].replace(*result).is_none(), "one result per job");
                }
                Event::Warning(warning) => warnings.push(warning),
            },
        )
        .unwrap();
        (results.into_iter().map(|r| r.expect("every job answered")).collect(), warnings)
    }

    #[test]
    fn a_gpu_that_cannot_be_opened_gives_its_cases_to_the_others() {
        let (results, warnings) = run("GPU-bad", &[place("GPU-bad"), place("GPU-good")]);
        for result in &results {
            assert_eq!(result.status, CaseStatus::Ok, "{result:?}");
            assert_eq!(result.gpu_uuid.as_deref(), Some("GPU-good"));
        }
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let message = &warnings[0].message;
        assert!(message.starts_with("GPU-bad:") && message.contains("fell off the bus"), "{message}");
    }

    #[test]
    fn when_no_gpu_can_be_opened_every_case_fails_with_the_reason() {
        let (results, warnings) = run("GPU-bad", &[place("GPU-bad")]);
        assert!(warnings.is_empty(), "the last lane gives nothing back: {warnings:?}");
        for result in &results {
            assert_eq!(result.status, CaseStatus::Failed);
            assert!(result.error.as_deref().unwrap().contains("fell off the bus"), "{result:?}");
        }
    }
}
