//! [`CudaBackend`]: the engine's [`Backend`] on a GPU — NVRTC-compiled kernels, buffers initialised on
//! the device, the reference run for the check, and samples timed by [`Timer`](crate::timing).
//!
//! Cold timing rotates each case over several placements of its buffers, sample by sample (see
//! [`Placements`]). The two sides of an A/B case whose arguments are alike share one set of buffers, so
//! neither side can sit in better memory than the other.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use cudarc::driver::{CudaGraph, CudaStream};
use pawl_core::engine::{Backend, Batch, Check, DeviceState, Failure, Handle, Output, TimingMode};
use pawl_core::plan::PlannedCase;
use pawl_core::run::KernelInfo;
use pawl_core::suite::{Bench, BenchKind, CudaBench, MeasureSettings};
use pawl_core::value::Params;
use sha2::{Digest, Sha256};

use crate::buffers::{ArgPlan, DeviceBuffer, plan_args};
use crate::compile::{Source, local_includes};
use crate::env::is_throttling;
use crate::error::CudaError;
use crate::launch::{Kernel, KernelArg};
use crate::session::{BufferSet, Entry, Placements, Session};
use crate::timing::Timed;

/// The CUDA backend, on an open [`Session`].
#[derive(Debug)]
pub struct CudaBackend {
    session: Session,
    cases: BTreeMap<u32, Prepared>,
    next: u32,
}

/// A case ready to check and time.
struct Prepared {
    bench: CudaBench,
    vars: Params,
    tune: Params,
    kernel: Kernel,
    plans: Vec<ArgPlan>,
    /// Placements of the buffers, each with identical contents; the first is the one checked. Shared
    /// with the other side of an A/B case when their arguments are alike.
    sets: Rc<Vec<BufferSet>>,
    /// Samples taken so far: sample `i` runs on set `i mod sets.len()`.
    taken: usize,
    graph: Option<CudaGraph>,
    fingerprint: Vec<u8>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("kernel", &self.bench.kernel)
            .field("sets", &self.sets.len())
            .finish()
    }
}

impl From<CudaError> for Failure {
    fn from(error: CudaError) -> Failure {
        Failure { lost: error.is_sticky(), ..Failure::new(error.to_string()) }
    }
}

impl CudaBackend {
    pub fn new(session: Session) -> CudaBackend {
        CudaBackend { session, cases: BTreeMap::new(), next: 0 }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Launches `case`'s kernel `launches` times, one after another, with nothing timed: for an external
    /// profiler (Nsight Compute) to time the same kernel pawl times.
    pub fn launch_only(
        &mut self,
        bench: &Bench,
        case: &PlannedCase,
        settings: &MeasureSettings,
        launches: usize,
    ) -> Result<(), Failure> {
        let settings = MeasureSettings { warm_cache: true, graph: false, ..settings.clone() };
        let handle = self.prepare(bench, case, &settings)?;
        let outcome = (|| {
            let p = &self.cases[&handle.0];
            let stream = self.session.gpu().stream.clone();
            for _ in 0..launches {
                p.kernel.launch(&stream, &p.sets[0].args)?;
            }
            stream.synchronize().map_err(CudaError::driver("running the kernel"))?;
            Ok::<(), CudaError>(())
        })();
        self.release(handle);
        Ok(outcome?)
    }

    fn add(&mut self, prepared: Prepared) -> Handle {
        let handle = self.next;
        self.next += 1;
        self.cases.insert(handle, prepared);
        Handle(handle)
    }

    fn case(&mut self, handle: Handle) -> Result<&mut Prepared, Failure> {
        self.cases.get_mut(&handle.0).ok_or_else(|| Failure::new(format!("no prepared case {}", handle.0)))
    }

    /// Compiles the case's kernel and works out its arguments; `sets` are the buffers to use, or `None`
    /// to allocate its own.
    fn build(
        &mut self,
        bench: &Bench,
        case: &PlannedCase,
        settings: &MeasureSettings,
        sets: Option<(&[ArgPlan], Rc<Vec<BufferSet>>)>,
    ) -> Result<Prepared, CudaError> {
        let BenchKind::Cuda(cuda) = &bench.kind else {
            return Err(CudaError::Setup(format!("bench `{}` is not a `kind = \"cuda\"` bench", bench.name)));
        };
        let vars = case.vars();
        let kernel = self.session.kernel(cuda, Entry::Kernel, &vars, &case.tune)?;
        let plans = plan_args(&cuda.args, &vars, settings.seed)?;
        let mode = TimingMode::for_settings(settings);
        let resets = plans.iter().filter_map(ArgPlan::buffer).any(|b| b.reset);
        if mode == TimingMode::Graph && resets {
            return Err(CudaError::Setup(
                "graph timing replays launches back to back and cannot reset buffers between them; time \
                 this bench without --graph"
                    .into(),
            ));
        }
        let sets = match sets {
            Some((shared_plans, sets)) if shared_plans == plans.as_slice() => sets,
            _ => {
                let placements = if mode.flushes() { Placements::Rotate } else { Placements::One };
                let set_bytes = plans.iter().filter_map(ArgPlan::buffer).map(|b| b.bytes()).sum();
                Rc::new(self.session.buffer_sets(&plans, placements.count(set_bytes))?)
            }
        };
        let graph = match mode {
            TimingMode::Graph => Some(self.session.timer.capture(&kernel, &sets[0].args)?),
            _ => None,
        };
        let fingerprint = fingerprint(&self.session, cuda, &kernel, &plans, &vars, &case.tune)?;
        Ok(Prepared {
            bench: cuda.clone(),
            vars,
            tune: case.tune.clone(),
            kernel,
            plans,
            sets,
            taken: 0,
            graph,
            fingerprint,
        })
    }

    /// Runs the kernel and its reference once, each on freshly filled outputs, and reads both back.
    fn run_check(&mut self, handle: Handle) -> Result<Check, CudaError> {
        let p = &self.cases[&handle.0];
        let stream = self.session.gpu().stream.clone();
        let builtins = &self.session.builtins;
        let sm_count = self.session.gpu().sm_count;
        let set = &p.sets[0];
        // Outputs start as poison (or their reset value) for this check, whatever ran on them before.
        for buffer in set.buffers.iter().filter(|b| b.plan.output || b.plan.reset) {
            buffer.fill(&stream, builtins, sm_count)?;
        }
        p.kernel.launch(&stream, &set.args)?;
        stream.synchronize().map_err(CudaError::driver("running the kernel (first launch)"))?;
        let Some(reference) = &p.bench.reference else { return Ok(Check::Unchecked) };
        let (rtol, atol) = (&reference.rtol, &reference.atol);

        // The reference reads the same inputs and writes outputs of its own, filled the same way.
        let mut ref_outputs: Vec<Option<DeviceBuffer>> = Vec::new();
        for buffer in &set.buffers {
            ref_outputs.push(if buffer.plan.output {
                let copy = DeviceBuffer::alloc(&stream, &buffer.plan)?;
                copy.fill(&stream, builtins, sm_count)?;
                Some(copy)
            } else {
                None
            });
        }
        let ref_args = reference_args(&p.plans, &set.buffers, &ref_outputs, &stream);
        let (bench, vars, tune) = (p.bench.clone(), p.vars.clone(), p.tune.clone());
        let rtol = rtol.eval_f64(&vars).map_err(|e| CudaError::Setup(format!("rtol: {e}")))?;
        let atol = atol.eval_f64(&vars).map_err(|e| CudaError::Setup(format!("atol: {e}")))?;
        let ref_kernel = self.session.kernel(&bench, Entry::Reference, &vars, &tune)?;
        ref_kernel.launch(&stream, &ref_args)?;
        stream.synchronize().map_err(CudaError::driver("running the reference kernel"))?;

        let p = &self.cases[&handle.0];
        let mut outputs = Vec::new();
        for (buffer, reference) in p.sets[0].buffers.iter().zip(&ref_outputs) {
            let Some(reference) = reference else { continue };
            outputs.push(Output {
                name: buffer.plan.name.clone(),
                dtype: buffer.plan.dtype,
                out: stream.clone_dtoh(&buffer.slice).map_err(CudaError::driver("copying an output back"))?,
                reference: stream
                    .clone_dtoh(&reference.slice)
                    .map_err(CudaError::driver("copying a reference output back"))?,
                poisoned: buffer.plan.poisoned(),
            });
        }
        Ok(Check::Outputs { rtol, atol, outputs })
    }

    fn run_time(&mut self, order: &[Handle], flush: bool) -> Result<Batch, CudaError> {
        let stream = self.session.gpu().stream.clone();
        let sm_count = self.session.gpu().sm_count;
        let mut samples_ns = Vec::with_capacity(order.len());
        for handle in order {
            let p = self
                .cases
                .get_mut(&handle.0)
                .ok_or_else(|| CudaError::Setup(format!("no prepared case {}", handle.0)))?;
            let set = &p.sets[p.taken % p.sets.len()];
            p.taken += 1;
            let timed = match &p.graph {
                Some(graph) => Timed::Graph(graph),
                None => Timed::Launch(&p.kernel, &set.args),
            };
            let builtins = &self.session.builtins;
            let reset = |stream: &CudaStream| {
                set.buffers
                    .iter()
                    .filter(|b| b.plan.reset)
                    .try_for_each(|b| b.fill(stream, builtins, sm_count))
            };
            samples_ns.push(self.session.timer.sample(builtins, timed, flush, &reset)?);
        }
        stream.synchronize().map_err(CudaError::driver("finishing the timed launches"))?;
        Ok(Batch { samples_ns, state: self.state() })
    }

    /// The SM clock and throttle reasons now, where NVML can read them.
    fn state(&self) -> DeviceState {
        let Some(monitor) = &self.session.monitor else { return DeviceState::default() };
        DeviceState {
            sm_clock_mhz: monitor.sm_clock_mhz().ok(),
            throttle_reasons: monitor
                .throttle_reasons()
                .map(|reasons| {
                    reasons.into_iter().filter(|r| is_throttling(std::slice::from_ref(r))).collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl Backend for CudaBackend {
    fn prepare(
        &mut self,
        bench: &Bench,
        case: &PlannedCase,
        settings: &MeasureSettings,
    ) -> Result<Handle, Failure> {
        let prepared = self.build(bench, case, settings, None)?;
        Ok(self.add(prepared))
    }

    fn prepare_pair(
        &mut self,
        base: (&Bench, &PlannedCase),
        head: (&Bench, &PlannedCase),
        settings: &MeasureSettings,
    ) -> Result<(Handle, Handle), Failure> {
        let a = self.build(base.0, base.1, settings, None)?;
        let shared = (a.plans.clone(), a.sets.clone());
        let b = self.build(head.0, head.1, settings, Some((&shared.0, shared.1)))?;
        Ok((self.add(a), self.add(b)))
    }

    fn check(&mut self, case: Handle) -> Result<Check, Failure> {
        self.case(case)?;
        Ok(self.run_check(case)?)
    }

    fn time(&mut self, order: &[Handle], flush: bool) -> Result<Batch, Failure> {
        Ok(self.run_time(order, flush)?)
    }

    fn release(&mut self, case: Handle) {
        self.cases.remove(&case.0);
    }

    fn kernel_info(&mut self, case: Handle) -> Option<KernelInfo> {
        self.cases.get(&case.0).and_then(|p| p.kernel.info().ok())
    }

    fn fingerprint(&mut self, case: Handle) -> Result<Option<Vec<u8>>, Failure> {
        Ok(Some(self.case(case)?.fingerprint.clone()))
    }
}

/// The reference's arguments: the case's inputs, and its own copies of the outputs.
fn reference_args(
    plans: &[ArgPlan],
    buffers: &[DeviceBuffer],
    ref_outputs: &[Option<DeviceBuffer>],
    stream: &CudaStream,
) -> Vec<KernelArg> {
    let mut ptrs = buffers.iter().zip(ref_outputs).map(|(b, r)| r.as_ref().unwrap_or(b).ptr(stream));
    plans
        .iter()
        .filter_map(|p| match p {
            ArgPlan::Buffer(_) => ptrs.next().map(KernelArg::Pointer),
            ArgPlan::Scalar(s) => Some(KernelArg::Scalar(*s)),
        })
        .collect()
}

/// What decides the code a case runs and how: source and local includes byte for byte (their paths
/// relative to the source's folder, so two checkouts of one tree agree), NVRTC options, the kernel's
/// name, launch geometry and every argument. Equal fingerprints compile to the same cubin (but for the
/// file names `-lineinfo` records) and launch it identically.
fn fingerprint(
    session: &Session,
    bench: &CudaBench,
    kernel: &Kernel,
    plans: &[ArgPlan],
    vars: &Params,
    tune: &Params,
) -> Result<Vec<u8>, CudaError> {
    let options = session.options(bench, &bench.defines, tune, vars)?;
    let source = Source::read(&bench.source)?;
    let home = source.dir.clone().unwrap_or_default();
    let home = home.canonicalize().unwrap_or(home);
    let mut hash = Sha256::new();
    let mut field = |label: &str, bytes: &[u8]| {
        hash.update(label.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field("source", source.text.as_bytes());
    for (path, bytes) in local_includes(&source, &options.include_dirs) {
        field("include", relative(&path, &home).as_bytes());
        field("include-text", &bytes);
    }
    for (name, value) in &options.defines {
        field("define", format!("{name}={value}").as_bytes());
    }
    for flag in &options.extra_flags {
        field("flag", flag.as_bytes());
    }
    field("arch", options.arch.as_bytes());
    field("kernel", bench.kernel.as_bytes());
    field("geometry", format!("{:?}", kernel.geometry).as_bytes());
    field("args", format!("{plans:?}").as_bytes());
    Ok(hash.finalize().to_vec())
}

/// `path` relative to `home`, walking up with `..` where it lies outside; as it is when they share no
/// root.
fn relative(path: &Path, home: &Path) -> String {
    let (path_parts, home_parts): (Vec<_>, Vec<_>) =
        (path.components().collect(), home.components().collect());
    let common = path_parts.iter().zip(&home_parts).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return path.display().to_string();
    }
    let ups = std::iter::repeat_n("..".to_owned(), home_parts.len() - common);
    let downs = path_parts[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned());
    ups.chain(downs).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_paths_are_taken_relative_to_the_source() {
        let home = Path::new("/tmp/base/kernels/attention");
        assert_eq!(relative(Path::new("/tmp/base/kernels/attention/tile.h"), home), "tile.h");
        assert_eq!(relative(Path::new("/tmp/base/kernels/common/util.h"), home), "../common/util.h");
        let other = Path::new("/tmp/head/kernels/attention");
        assert_eq!(
            relative(Path::new("/tmp/head/kernels/common/util.h"), other),
            relative(Path::new("/tmp/base/kernels/common/util.h"), home),
            "two checkouts of one tree give the same relative paths"
        );
    }
}
