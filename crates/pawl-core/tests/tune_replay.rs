//! The tuning search judged on recorded spaces, with no GPU: replayed against every exhaustive
//! recording under `tests/data/tuning/` (the synthetic one committed with the code, and any recorded
//! on a GPU by `pawl tune --exhaustive` and dropped beside it), it must reach 95% of the exhaustive
//! best in a quarter of the exhaustive measuring time; rejected configurations never win; ties are
//! reported as ties.

mod testbed;

use std::path::{Path, PathBuf};
use std::time::Duration;

use pawl_core::tune::decide::Basis;
use pawl_core::tune::record::{TunedCase, Tuning};
use pawl_core::tune::replay::Replay;
use pawl_core::tune::search::{self, SearchSettings};
use testbed::tuning::{DEFAULT, Model, Synthetic, coords};

/// The share of the exhaustive measuring time the search is given.
const BUDGET_SHARE: f64 = 0.25;
/// The share of the exhaustive best's speed it must reach.
const QUALITY: f64 = 0.95;
/// Seeds each recording is searched with.
const SEEDS: u64 = 8;

/// Every exhaustive case of every recording in `tests/data/tuning/`.
fn recordings() -> Vec<(PathBuf, TunedCase)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tuning");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let tuning = Tuning::load(&file).unwrap_or_else(|e| panic!("{e}"));
        for case in tuning.cases {
            if case.is_exhaustive() {
                cases.push((file.clone(), case));
            } else {
                eprintln!("{}: `{}` is not exhaustive; not used", file.display(), case.id);
            }
        }
    }
    assert!(!cases.is_empty(), "no exhaustive recording in {}", dir.display());
    cases
}

fn settings(budget: Duration, seed: u64) -> SearchSettings {
    SearchSettings { budget_s: budget.as_secs_f64(), seed, ..SearchSettings::default() }
}

#[test]
fn the_search_reaches_95_percent_of_the_exhaustive_best_in_a_quarter_of_its_time() {
    for (file, case) in recordings() {
        let truth = Replay::new(&case);
        let exhaustive = truth.exhaustive_cost();
        let (best, best_ns) = truth.best().expect("something was timed");
        let budget = exhaustive.mul_f64(BUDGET_SHARE);
        let (mut worst_quality, mut sum_quality, mut worst_spent, mut sum_spent, mut sum_measured) =
            (f64::INFINITY, 0.0, 0.0_f64, 0.0, 0.0);
        for seed in 0..SEEDS {
            let mut replay = Replay::new(&case);
            let result = search::run(&case.space, &mut replay, &settings(budget, seed));
            let spent = result.spent.as_secs_f64() / exhaustive.as_secs_f64();
            assert!(
                result.spent <= budget,
                "{}: spent {:?} of a budget of {budget:?}",
                case.id,
                result.spent
            );
            let found = result.decision.suggested;
            assert!(!truth.is_rejected(found), "{}: a rejected configuration won", case.id);
            let found_ns = truth.median(found).expect("the suggestion was timed");
            let quality = best_ns / found_ns;
            assert!(
                quality >= QUALITY,
                "{} ({}), seed {seed}: found {} at {found_ns:.0} ns, the exhaustive best is {} at {best_ns:.0} \
                 ns: {:.1}% of its speed",
                case.id,
                file.display(),
                case.space.configs[found].to_id_string(),
                case.space.configs[best].to_id_string(),
                quality * 100.0
            );
            worst_quality = worst_quality.min(quality);
            sum_quality += quality;
            worst_spent = worst_spent.max(spent);
            sum_spent += spent;
            sum_measured += result.measured().len() as f64 / case.space.len() as f64;
        }
        let n = SEEDS as f64;
        eprintln!(
            "{} ({}): {} configurations, exhaustive {:.0} s; over {SEEDS} seeds the suggestion reached {:.1}% \
             of the best's speed on average (worst {:.1}%), using {:.1}% of the exhaustive time on average \
             (most {:.1}%) and measuring {:.1}% of the configurations",
            case.id,
            file.file_name().unwrap().to_string_lossy(),
            case.space.len(),
            exhaustive.as_secs_f64(),
            sum_quality / n * 100.0,
            worst_quality * 100.0,
            sum_spent / n * 100.0,
            worst_spent * 100.0,
            sum_measured / n * 100.0,
        );
    }
}

#[test]
fn rejected_configurations_never_win_at_any_budget() {
    for (_, case) in recordings() {
        let truth = Replay::new(&case);
        let exhaustive = truth.exhaustive_cost();
        for share in [0.02, 0.05, 0.1, 0.5, 1.0] {
            for seed in 0..3 {
                let mut replay = Replay::new(&case);
                let result =
                    search::run(&case.space, &mut replay, &settings(exhaustive.mul_f64(share), seed));
                let d = &result.decision;
                for c in std::iter::once(d.suggested).chain(d.ties.iter().copied()) {
                    assert!(!truth.is_rejected(c), "{}: rejected configuration {c} in {d:?}", case.id);
                }
                assert!(result.spent <= exhaustive.mul_f64(share), "{}: over budget at {share}", case.id);
            }
        }
    }
}

#[test]
fn the_synthetic_recording_has_failures_where_they_would_win() {
    // The check above means something only if rejected configurations sit among the fastest.
    let synthetic = recordings().into_iter().filter(|(f, _)| f.ends_with("synthetic.json"));
    let beside_the_best = synthetic
        .filter(|(_, case)| {
            let truth = Replay::new(case);
            let (best, _) = truth.best().unwrap();
            case.space.neighbours(best).into_iter().any(|n| truth.is_rejected(n))
        })
        .count();
    assert!(beside_the_best >= 1, "in some case the best has a rejected neighbour");
}

/// A live search on a synthetic measurer with a generous budget.
fn search_model(model: Model) -> (pawl_core::tune::space::Space, search::SearchResult) {
    let space = model.space();
    let mut measurer = Synthetic::new(model);
    let result = search::run(&space, &mut measurer, &settings(Duration::from_secs(2000), 3));
    (space, result)
}

fn plateau_model(plateau: Vec<[i64; 4]>) -> Model {
    Model {
        name: "plateau".into(),
        d: 64,
        base_ns: 150_000.0,
        basins: vec![([5.0, 5.0, 1.0, 3.0], 1.0)],
        plateau,
        roughness: 0.005,
        samples: 48,
        seed: 11,
    }
}

#[test]
fn two_configurations_equal_within_noise_are_reported_as_a_tie() {
    let a = [32, 32, 2, 3];
    let b = [32, 32, 2, 4];
    let (space, result) = search_model(plateau_model(vec![a, b]));
    let d = &result.decision;
    let ties: Vec<[i64; 4]> = d.ties.iter().map(|&c| coords(&space.configs[c])).collect();
    assert_eq!(d.basis, Basis::Faster, "{d:?}");
    assert!(ties.contains(&a) && ties.contains(&b), "the tie set {ties:?} holds both planted configurations");
    assert!(ties.contains(&coords(&space.configs[d.suggested])));
    let up = d.speedup.unwrap();
    assert!(up.low > 1.0, "the tie beats the default: {up:?}");
}

#[test]
fn a_default_tied_with_the_best_stays() {
    let neighbour = [DEFAULT[0], DEFAULT[1], DEFAULT[2], DEFAULT[3] + 1];
    let (space, result) = search_model(plateau_model(vec![DEFAULT, neighbour]));
    let d = &result.decision;
    assert_eq!(d.basis, Basis::DefaultTied, "{d:?}");
    assert_eq!(d.suggested, space.default);
    assert!(d.ties.len() >= 2 && d.ties.contains(&space.default), "{d:?}");
    assert!(!d.changes_default() && d.speedup.is_none());
}

#[test]
fn the_budget_holds_for_a_live_search_too() {
    for seconds in [1.0, 10.0, 60.0, 300.0] {
        let model = Model::attention_like().remove(1);
        let space = model.space();
        let mut measurer = Synthetic::new(model);
        let result = search::run(&space, &mut measurer, &settings(Duration::from_secs_f64(seconds), 0));
        assert!(result.spent <= Duration::from_secs_f64(seconds), "{seconds} s: spent {:?}", result.spent);
    }
}

#[test]
fn a_truncated_or_edited_recording_is_refused_with_the_field_at_fault() {
    let (file, _) = recordings().remove(0);
    let text = std::fs::read_to_string(&file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, text.replacen("\"suggested\":", "\"suggested\":99999,\"x\":", 1)).unwrap();
    let err = Tuning::load(&bad).unwrap_err().to_string();
    assert!(err.contains("names configuration 99999"), "{err}");
    std::fs::write(&bad, &text[..text.len() / 2]).unwrap();
    assert!(Tuning::load(&bad).is_err());

    // Absurd but valid numbers replay without a panic: times saturate.
    let absurd = text
        .replace("\"setup_s\":", "\"setup_s\":1e300,\"was\":")
        .replace("\"overhead_s\":", "\"overhead_s\":1e308,\"was\":");
    std::fs::write(&bad, absurd).unwrap();
    let absurd = Tuning::load(&bad).unwrap();
    let replayed = pawl_core::tune::replay::replay(
        &absurd,
        "absurd",
        Duration::from_secs(600),
        &SearchSettings::default(),
    );
    replayed.validate().unwrap();
}

#[test]
fn a_replayed_tuning_renders_its_suggestions() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tuning/synthetic.json");
    let recording = Tuning::load(&file).unwrap();
    let exhaustive: Duration = recording.cases.iter().map(|c| Replay::new(c).exhaustive_cost()).sum();
    let tuning = pawl_core::tune::replay::replay(
        &recording,
        "replay of synthetic.json",
        exhaustive.mul_f64(BUDGET_SHARE),
        &SearchSettings::default(),
    );
    tuning.validate().unwrap();
    assert_eq!(tuning.cases.len(), 2);
    let md = pawl_core::report::tuning::suggestions(&tuning);
    assert!(md.starts_with("# pawl tune: synthetic\n"), "{md}");
    assert!(md.contains("2 cases tuned in") && md.contains("**2 faster**"), "{md}");
    assert!(md.contains("| synthetic/D=64 | BLOCK\\_M=64,NUM\\_WARPS=2,NUM\\_STAGES=3 | ×1.1"), "{md}");
    assert!(
        md.contains("Rejected (never timed, never suggested)")
            && md.contains("CUDA\\_ERROR\\_INVALID\\_VALUE"),
        "{md}"
    );
    assert!(md.contains("- against the exhaustive recording: its best is"), "{md}");
    let a = tuning.cases[0].against_exhaustive.as_ref().unwrap();
    assert!(a.best_ns / a.found_ns >= QUALITY);
}
