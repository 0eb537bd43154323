//! `pawl ab --base REV [--head REV]`: the suite's CUDA kernels of two revisions, interleaved on one GPU
//! in one worker process, judged pair by pair.
//!
//! The base (and a named head) revision's files come from git into a temporary folder; the head
//! defaults to the working tree. Both suites are planned, cases are matched by id (one side only ⇒
//! `new` or `missing`), and pawl-cuda's paired worker measures the rest until each is settled or its
//! budget share is spent. With `--gpus`, the cases are split over the GPUs and each GPU's worker
//! measures its share paired, both sides of a case on that one GPU. The verdicts, reports and exit
//! codes are those of `pawl compare`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pawl_core::baseline::Testbed;
use pawl_core::case::CaseId;
use pawl_core::estimate::Estimates;
use pawl_core::expr::Expr;
use pawl_core::paired::{self, PairedCase, PairedOptions, PairedOutcome, StopRule};
use pawl_core::plan::{self, PlannedCase, Selection};
use pawl_core::shard;
use pawl_core::suite::{Bench, BenchKind, Suite, limits};
use pawl_core::verdict::Comparison;
use pawl_cuda::protocol::{PairedCaseSpec, PairedRequest, PairedResult, Request};
use pawl_cuda::workers::{Answer, Worker};

use super::{Outcome, history, load_suite, thresholds};
use crate::cli::AbArgs;
use crate::{git, gpus, measure, output, revision};

pub fn run(args: &AbArgs) -> Result<Outcome> {
    let mut comparison = compare(args)?;
    comparison.thresholds_from = Some(super::thresholds_words(Some(&args.suite), &args.judge));
    output::write_report(&comparison, &args.report)?;
    Ok(Outcome::from_failed(comparison.fails_check()))
}

/// Measures both revisions interleaved and returns the paired verdicts (`args.report` is not used).
pub fn compare(args: &AbArgs) -> Result<Comparison> {
    let budget = parse_budget(&args.budget)?;
    if args.max_pairs < 2 {
        bail!("--max-pairs must be at least 2, got {}", args.max_pairs);
    }
    let suite_path =
        args.suite.canonicalize().with_context(|| format!("cannot find {}", args.suite.display()))?;
    let root = git::repo_root(suite_path.parent().unwrap_or(Path::new(".")))?;
    let root = root.canonicalize().unwrap_or(root);
    let suite_rel = suite_path.strip_prefix(&root).with_context(|| {
        format!("{} is not inside the repository at {}", suite_path.display(), root.display())
    })?;
    let temp = tempfile::tempdir().context("cannot create a temporary folder for the revisions' files")?;

    let base_commit = git::resolve(&root, &args.base)?;
    let base_suite =
        load_suite(&revision::extract(&root, &base_commit, suite_rel, &temp.path().join("base"))?)
            .with_context(|| format!("the suite as of --base {}", args.base))?;
    let (head_suite, head_label, head_git) = match &args.head {
        Some(rev) => {
            let commit = git::resolve(&root, rev)?;
            let suite = load_suite(&revision::extract(&root, &commit, suite_rel, &temp.path().join("head"))?)
                .with_context(|| format!("the suite as of --head {rev}"))?;
            (suite, format!("{rev} ({})", short(&commit)), Some(history::commit_info(&commit)))
        }
        None => (load_suite(&suite_path)?, "working tree".to_owned(), git::info(&root)),
    };
    let base_label = format!("{} ({})", args.base, short(&base_commit));

    let filter =
        args.filter.as_deref().map(Expr::parse).transpose().context("--where is not a valid expression")?;
    let selection = Selection { bench: args.bench.as_deref(), filter: filter.as_ref() };
    let base_cases = cuda_cases(&base_suite, &selection, false)?;
    let head_cases = cuda_cases(&head_suite, &selection, true)?;
    let matched = match_cases(&base_cases, &head_cases);
    if matched.outcomes.is_empty() && matched.cases.is_empty() {
        bail!(
            "no `kind = \"cuda\"` case of {} matches the selection in either revision",
            args.suite.display()
        );
    }

    let t = thresholds(Some(&head_suite), &args.judge)?;
    let mut settings = measure::settings(&head_suite, &default_measure_args(args))?;
    settings.seed = args.seed.unwrap_or(settings.seed);
    let rule = StopRule {
        tolerance: t.tolerance,
        confidence: t.confidence,
        max_pairs: args.max_pairs,
        seed: args.judge.bootstrap_seed,
    };
    let devices = gpus::selected(&args.gpus)?;
    let first_gpu = devices.as_ref().map(|d| d[0].uuid.clone());
    let env = measure::environment(!matched.cases.is_empty(), first_gpu.as_deref())?;
    let started = jiff::Timestamp::now();
    let mut outcomes = matched.outcomes;
    let mut gpu_seconds = Vec::new();
    if !matched.cases.is_empty() {
        let places = gpus::places(devices);
        let shares = if places.len() > 1 {
            let estimates = measure::estimates(
                &head_suite,
                args.gpus.estimates.as_deref(),
                &env,
                measure::Split::OneHost,
            )?;
            split(&matched.cases, places.len(), estimates.as_ref())
        } else {
            vec![matched.cases.clone()]
        };
        crate::log::info(format_args!(
            "pawl ab: {} cases on both sides{}, budget {:.0} s, base {base_label}, head {head_label}",
            matched.cases.len(),
            if places.len() > 1 {
                format!(" over {} GPUs (the whole budget on each)", places.len())
            } else {
                String::new()
            },
            budget.as_secs_f64()
        ));
        let watchdog = limits::duration(settings.timeout_s + budget.as_secs_f64());
        let answers: Mutex<BTreeMap<CaseId, PairedResult>> = Mutex::new(BTreeMap::new());
        let argv = measure::worker_argv()?;
        let lanes: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = places
                .iter()
                .zip(shares)
                .filter(|(_, share)| !share.is_empty())
                .map(|(place, share)| {
                    let request = PairedRequest {
                        benches: matched.benches.clone(),
                        cases: share,
                        settings: settings.clone(),
                        rule,
                        budget_s: budget.as_secs_f64(),
                        measure_identical: args.measure_identical,
                    };
                    let (argv, answers) = (&argv, &answers);
                    scope.spawn(move || {
                        let mut worker = Worker::new(argv);
                        if let Some(device) = place {
                            worker = worker.env(gpus::PIN, &device.uuid);
                        }
                        let outcome = worker.run(Request::Paired(request), watchdog, &mut |answer| {
                            if let Answer::Paired(result) = answer {
                                let mut answers = answers.lock().unwrap_or_else(PoisonError::into_inner);
                                answers.insert(result.id.clone(), *result);
                            }
                        });
                        worker.finish();
                        outcome.map_err(|e| match place {
                            Some(device) => format!("{}: {e}", device.uuid),
                            None => e.to_string(),
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("a GPU's lane panicked".into())))
                .collect()
        });
        if let Some(error) = lanes.into_iter().find_map(Result::err) {
            bail!("{error}");
        }
        let answers = answers.into_inner().unwrap_or_else(PoisonError::into_inner);
        for case in &matched.cases {
            let answer = answers.get(&case.head.case.id);
            if let Some(PairedResult { case: PairedCase::Measured { .. }, elapsed_s, .. }) = answer {
                gpu_seconds.push(*elapsed_s);
            }
            outcomes.push(outcome_of(&case.head, answer));
        }
    }
    let sides = history::AbSides {
        suite: &head_suite,
        started,
        env: &env,
        settings: &settings,
        base: history::commit_info(&base_commit),
        head: head_git,
    };
    history::record_ab(&sides, &outcomes, args.no_history)?;
    let opts = PairedOptions {
        suite: head_suite.name.clone(),
        base_label,
        head_label,
        testbed: Testbed::from_env(&env).to_string(),
        rule,
    };
    let comparison = paired::compare_paired(&outcomes, &opts);
    gpu_seconds.sort_by(f64::total_cmp);
    crate::log::info(format_args!(
        "pawl ab: {} measured, {} identical code (not measured); time per measured case: median {:.2} s, total {:.1} s",
        gpu_seconds.len(),
        paired::identical_count(&comparison),
        gpu_seconds.get(gpu_seconds.len() / 2).copied().unwrap_or(0.0),
        gpu_seconds.iter().sum::<f64>()
    ));
    Ok(comparison)
}

/// The longest `--budget`: a day, as the longest timeout a suite may set.
const MAX_BUDGET_S: f64 = 86_400.0;

/// `60s`, `2m`, `500ms` or a bare number of seconds, up to a day.
pub fn parse_budget(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    match number.trim().parse::<f64>().map(|v| v * scale) {
        Ok(seconds) if seconds > 0.0 && seconds <= MAX_BUDGET_S => Ok(limits::duration(seconds)),
        _ => bail!(
            "--budget `{text}` is not a positive time up to a day; write it as 60s, 2m, 500ms or seconds"
        ),
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// The planned cases of every `cuda` bench, with their bench; other kinds are left out, with a message
/// where `say` (once, for the head side: both revisions usually hold the same benches).
fn cuda_cases(suite: &Suite, selection: &Selection, say: bool) -> Result<Vec<SideCase>> {
    let mut cases = Vec::new();
    for bench_plan in plan::plan(suite, selection)? {
        match &bench_plan.bench.kind {
            BenchKind::Cuda(_) => {
                let bench = bench_plan.bench.clone();
                cases.extend(bench_plan.cases.into_iter().map(|c| (bench.clone(), c)));
            }
            BenchKind::Command(_) if say => crate::log::info(format_args!(
                "pawl ab: bench `{}` is a command bench; only `kind = \"cuda\"` benches are compared",
                pawl_core::report::escape::terminal(&bench_plan.bench.name)
            )),
            BenchKind::Command(_) => {}
        }
    }
    Ok(cases)
}

/// A planned case with its bench.
type SideCase = (Bench, PlannedCase);

/// Cases of both sides matched by id.
#[derive(Debug, Default)]
struct Matched {
    benches: Vec<(Bench, Bench)>,
    cases: Vec<PairedCaseSpec>,
    /// Cases on one side only, decided already.
    outcomes: Vec<PairedOutcome>,
}

fn match_cases(base: &[SideCase], head: &[SideCase]) -> Matched {
    let mut by_id: BTreeMap<&CaseId, (Option<&SideCase>, Option<&SideCase>)> = BTreeMap::new();
    for side in base {
        by_id.entry(&side.1.case.id).or_default().0 = Some(side);
    }
    for side in head {
        by_id.entry(&side.1.case.id).or_default().1 = Some(side);
    }
    let mut matched = Matched::default();
    let mut bench_index: BTreeMap<String, usize> = BTreeMap::new();
    for (_, sides) in by_id {
        let only = |case: &PlannedCase, kind: PairedCase| PairedOutcome {
            id: case.case.id.clone(),
            bench: case.case.bench.clone(),
            params: case.case.params.clone(),
            flops: case.flops,
            bytes: case.bytes,
            case: kind,
        };
        match sides {
            (Some((b_spec, b)), Some((h_spec, h))) => {
                let bench = *bench_index.entry(h.case.bench.clone()).or_insert_with(|| {
                    matched.benches.push((b_spec.clone(), h_spec.clone()));
                    matched.benches.len() - 1
                });
                matched.cases.push(PairedCaseSpec { bench, base: b.clone(), head: h.clone() });
            }
            (Some((_, b)), None) => matched.outcomes.push(only(b, PairedCase::OnlyBase)),
            (None, Some((_, h))) => matched.outcomes.push(only(h, PairedCase::OnlyHead)),
            (None, None) => {}
        }
    }
    matched
}

fn outcome_of(case: &PlannedCase, answer: Option<&PairedResult>) -> PairedOutcome {
    let kind = match answer {
        Some(answer) => answer.case.clone(),
        None => PairedCase::Failed { message: "the worker never answered this case".to_owned() },
    };
    PairedOutcome {
        id: case.case.id.clone(),
        bench: case.case.bench.clone(),
        params: case.case.params.clone(),
        flops: case.flops,
        bytes: case.bytes,
        case: kind,
    }
}

/// The cases split over `lanes` GPUs, each share in suite order: balanced on the estimates where there
/// are some, else on the count of cases (the same rule as `--shard`'s).
fn split(cases: &[PairedCaseSpec], lanes: usize, estimates: Option<&Estimates>) -> Vec<Vec<PairedCaseSpec>> {
    let ids: Vec<&CaseId> = cases.iter().map(|c| &c.head.case.id).collect();
    let costs = estimates.and_then(|e| e.costs(&ids)).unwrap_or_else(|| vec![1.0; ids.len()]);
    let assignment = shard::assign(&ids, lanes as u32, Some(&costs));
    let mut shares = vec![Vec::new(); lanes];
    for (case, lane) in cases.iter().zip(assignment) {
        shares[lane as usize - 1].push(case.clone());
    }
    shares
}

/// Measuring flags `pawl ab` does not take: the suite's settings stand.
fn default_measure_args(args: &AbArgs) -> crate::cli::MeasureArgs {
    crate::cli::MeasureArgs {
        bench: args.bench.clone(),
        filter: args.filter.clone(),
        warm_cache: false,
        target_rel_ci: None,
        min_samples: None,
        max_samples: None,
        max_time: None,
        timeout: None,
        seed: args.seed,
        graph: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pawl_core::case::Case;
    use pawl_core::value::{Params, Value};

    fn planned(bench: &str, n: i64) -> PlannedCase {
        let mut params = Params::new();
        params.insert("N", Value::Int(n));
        PlannedCase { case: Case::new(bench, params), tune: Params::new(), flops: None, bytes: None }
    }

    #[test]
    fn budgets_parse_with_units() {
        assert_eq!(parse_budget("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_budget("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_budget("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_budget("1.5").unwrap(), Duration::from_millis(1500));
        let err = parse_budget("soon").unwrap_err().to_string();
        assert!(err.contains("`soon`"), "{err}");
        assert!(parse_budget("-1s").is_err());
        // Far past a day, or not a number at all: an error, never a panic.
        for huge in ["1e19", "1e300s", "inf", "NaN", "25h", "1441m"] {
            assert!(parse_budget(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_budget("1440m").unwrap(), Duration::from_secs(86_400));
    }

    #[test]
    fn cases_split_over_gpus_evenly_each_share_in_suite_order() {
        let spec = |n| PairedCaseSpec { bench: 0, base: planned("k", n), head: planned("k", n) };
        let cases: Vec<PairedCaseSpec> = (1..=7).map(spec).collect();
        let shares = split(&cases, 3, None);
        let sizes: Vec<usize> = shares.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 7);
        assert!(sizes.iter().all(|&n| n == 2 || n == 3), "{sizes:?}");
        for share in &shares {
            let ns: Vec<&str> = share.iter().map(|c| c.head.case.id.as_str()).collect();
            let mut sorted = ns.clone();
            sorted.sort();
            assert_eq!(ns, sorted, "suite order within a share");
        }
        // On estimates: the one long case gets a GPU of its own.
        let mut run = pawl_core::run::Run::new("s", "t", Default::default(), Default::default());
        for n in 1..=7 {
            let mut case =
                pawl_core::run::CaseResult::planned(&planned("k", n), pawl_core::run::CaseStatus::Ok);
            case.elapsed_s = Some(if n == 4 { 60.0 } else { 1.0 });
            run.cases.push(case);
        }
        let estimates = Estimates::from_run(&run, "old.json");
        let shares = split(&cases, 3, Some(&estimates));
        let alone = shares.iter().find(|s| s.iter().any(|c| c.head.case.id.as_str() == "k/N=4")).unwrap();
        assert_eq!(alone.len(), 1, "{shares:?}");
    }

    #[test]
    fn cases_match_by_id_and_the_rest_are_new_or_missing() {
        let cuda = pawl_core::suite::CudaBench {
            source: "k.cu".into(),
            kernel: "k".into(),
            include_dirs: vec![],
            extra_flags: vec![],
            defines: vec![],
            launch: pawl_core::suite::Launch {
                grid: vec![Expr::parse("1").unwrap()],
                block: vec![Expr::parse("32").unwrap()],
                shared_mem: None,
            },
            args: vec![],
            reference: None,
        };
        let spec = Bench {
            name: "k".into(),
            params: vec![],
            filter: None,
            flops: None,
            bytes: None,
            tune: vec![],
            constraints: vec![],
            kind: BenchKind::Cuda(cuda),
        };
        let base = vec![(spec.clone(), planned("k", 1)), (spec.clone(), planned("k", 2))];
        let head = vec![(spec.clone(), planned("k", 2)), (spec.clone(), planned("k", 3))];
        let matched = match_cases(&base, &head);
        assert_eq!(matched.cases.len(), 1);
        assert_eq!(matched.cases[0].head.case.id.as_str(), "k/N=2");
        assert_eq!(matched.benches.len(), 1);
        let kinds: Vec<(&str, &PairedCase)> =
            matched.outcomes.iter().map(|o| (o.id.as_str(), &o.case)).collect();
        assert_eq!(kinds, vec![("k/N=1", &PairedCase::OnlyBase), ("k/N=3", &PairedCase::OnlyHead)]);
    }
}
