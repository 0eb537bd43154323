//! `pawl profile`: Nsight Compute profiles of the regressed cases, at head and at a base revision, and a
//! side-by-side table of what changed most; and `pawl __launch`, which launches one case once for it.
//!
//! Each case is profiled in its own ncu process that runs `pawl __launch SUITE CASE` (compile, fill the
//! inputs, launch the kernel once) with the kernel filter set to the bench's entry point, so only that
//! one launch is profiled. The base revision's sources are taken from git into a temporary folder and
//! launched by this same pawl. Nsight Compute missing or failing is a warning in the report, never a
//! failed check: profiles explain a regression, they do not decide one.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pawl_core::case::CaseId;
use pawl_core::files;
use pawl_core::plan::{self, Selection};
use pawl_core::report::escape::{self, markdown as escape_markdown};
use pawl_core::report::text::duration;
use pawl_core::suite::{BenchKind, Suite};
use pawl_core::targets;
use pawl_supervise::{Stderr, Stdin, Stdout};

use super::{Outcome, load_suite};
use crate::cli::{LaunchArgs, ProfileArgs};
use crate::ncu::{self, KernelProfile, Kind, METRICS};
use crate::{git, log};

/// The longest one ncu process may take (compilation, the replay passes of one launch) before it is
/// stopped and that profile given up.
const NCU_TIMEOUT: Duration = Duration::from_secs(300);

/// Stall reasons shown per side.
const TOP_STALLS: usize = 3;

pub fn run(args: &ProfileArgs) -> Result<Outcome> {
    let targets = read_targets(&args.targets)?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create the folder {}", args.out_dir.display()))?;
    let report_path = args.out_dir.join("profile.md");
    if targets.is_empty() {
        crate::log::info(format_args!(
            "profile: {} lists no case; nothing to profile",
            args.targets.display()
        ));
        files::write_atomic(&report_path, b"")?;
        return Ok(Outcome::Pass);
    }
    let mut notes = Vec::new();
    if targets.len() > args.max_cases {
        notes.push(format!(
            "{} regressed cases; the first {} are profiled (--max-cases).",
            targets.len(),
            args.max_cases
        ));
    }
    let targets = &targets[..targets.len().min(args.max_cases)];

    let Some(ncu) = find_ncu(args.ncu.as_deref()) else {
        let note = "Nsight Compute (`ncu`) was not found on the runner, so the regressed cases were not \
                    profiled; install it or pass `--ncu PATH`.";
        warn(note);
        write_report(&report_path, &format!("### Nsight Compute profiles\n\n{note}\n"))?;
        return Ok(Outcome::Pass);
    };
    let head_suite_path = std::fs::canonicalize(&args.suite)
        .with_context(|| format!("cannot find the suite file {}", args.suite.display()))?;
    let head_suite = load_suite(&head_suite_path)?;
    let profiler = Profiler { ncu, out_dir: &args.out_dir };

    // The base revision's tree lives as long as `_base_tree`.
    let (_base_tree, base) = match &args.base {
        Some(rev) => match checkout(rev, &head_suite_path) {
            Ok((tree, suite_path)) => match load_suite(&suite_path) {
                Ok(suite) => (Some(tree), Some((rev.as_str(), suite_path, suite))),
                Err(err) => {
                    notes.push(warn(&format!(
                        "the suite at `{rev}` cannot be read, so only head is profiled: {err:#}"
                    )));
                    (Some(tree), None)
                }
            },
            Err(err) => {
                notes.push(warn(&format!(
                    "cannot take the sources at `{rev}`, so only head is profiled: {err:#}"
                )));
                (None, None)
            }
        },
        None => (None, None),
    };

    let mut cases = Vec::new();
    for (i, id) in targets.iter().enumerate() {
        let head = profiler.profile("head", i, &head_suite_path, &head_suite, id);
        let base_profile = base.as_ref().map(|(_, path, suite)| profiler.profile("base", i, path, suite, id));
        cases.push(CaseProfiles { id: id.clone(), head, base: base_profile });
    }
    let base_label = base.as_ref().map(|(rev, ..)| *rev);
    let markdown = render(&cases, base_label, &notes, args.rows);
    write_report(&report_path, &markdown)?;
    print!("{}", escape::terminal_lines(&markdown));
    crate::log::info(format_args!("profile: {} written, raw CSVs beside it", report_path.display()));
    Ok(Outcome::Pass)
}

/// `pawl __launch SUITE CASE`: compile the case's kernel and launch it `--count` times, untimed.
pub fn launch(args: &LaunchArgs) -> Result<Outcome> {
    let suite = load_suite(&args.suite)?;
    let id = CaseId::from_raw(args.case.clone());
    let bench = suite
        .bench(id.bench())
        .with_context(|| format!("{}: no bench `{}` for case `{id}`", suite.path.display(), id.bench()))?;
    let BenchKind::Cuda(_) = &bench.kind else {
        bail!("case `{id}` belongs to a `kind = \"command\"` bench; only CUDA benches can be launched")
    };
    let plans = plan::plan(&suite, &Selection { bench: Some(&bench.name), filter: None })?;
    let case = plans.iter().flat_map(|p| &p.cases).find(|c| c.case.id == id).with_context(|| {
        format!(
            "{}: bench `{}` has no case `{id}`; `pawl validate --list` shows them",
            suite.path.display(),
            bench.name
        )
    })?;
    let session = pawl_cuda::Session::open(pawl_cuda::Cache::from_env())?;
    let mut backend = pawl_cuda::CudaBackend::new(session);
    backend.launch_only(bench, case, &suite.measure, args.count).map_err(|f| anyhow::anyhow!(f.message))?;
    Ok(Outcome::Pass)
}

/// The case ids of a targets file: one a line, blank lines and `#` comments skipped.
fn read_targets(path: &Path) -> Result<Vec<CaseId>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("cannot read {}; `pawl check` writes it (--profile-targets)", path.display())
    })?;
    Ok(targets::parse(&text, path)?)
}

/// `--ncu`, else `ncu` on PATH.
pub fn find_ncu(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return path.is_file().then(|| path.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("ncu")).find(|p| p.is_file())
}

/// Warns (see [`log::warn`]) and gives the message back for the report's notes.
fn warn(message: &str) -> String {
    log::warn("pawl profile", message);
    message.to_owned()
}

fn write_report(path: &Path, markdown: &str) -> Result<()> {
    files::write_atomic(path, markdown.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// The sources of revision `rev` of the repository holding `suite`, in a temporary folder, and where the
/// suite file is inside it.
fn checkout(rev: &str, suite: &Path) -> Result<(tempfile::TempDir, PathBuf)> {
    let root = git::repo_root(suite.parent().unwrap_or(Path::new(".")))?;
    let root = std::fs::canonicalize(&root).with_context(|| format!("cannot find {}", root.display()))?;
    let relative = suite.strip_prefix(&root).with_context(|| {
        format!("{} is not inside the git repository at {}", suite.display(), root.display())
    })?;
    let commit = git::resolve(&root, rev)?;
    let tree = tempfile::Builder::new().prefix("pawl-base-").tempdir()?;
    git::export(&root, &commit, tree.path())?;
    let suite = tree.path().join(relative);
    Ok((tree, suite))
}

/// One profile of one case on one side, or why there is none.
type Profiled = std::result::Result<KernelProfile, String>;

#[derive(Debug)]
struct CaseProfiles {
    id: CaseId,
    head: Profiled,
    base: Option<Profiled>,
}

#[derive(Debug)]
struct Profiler<'a> {
    ncu: PathBuf,
    out_dir: &'a Path,
}

impl Profiler<'_> {
    /// Profiles one launch of case `id` of `suite`; the raw CSV goes to `OUT_DIR/SIDE-N.csv`, ncu's
    /// messages to `SIDE-N.log`.
    fn profile(&self, side: &str, n: usize, suite_path: &Path, suite: &Suite, id: &CaseId) -> Profiled {
        let kernel = match suite.bench(id.bench()).map(|b| &b.kind) {
            Some(BenchKind::Cuda(cuda)) => cuda.kernel.clone(),
            Some(BenchKind::Command(_)) => {
                return Err("a command bench: Nsight Compute profiles CUDA benches".into());
            }
            None => return Err(format!("no bench `{}` in the suite here", id.bench())),
        };
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the pawl executable: {e}"))?;
        let program: Vec<OsString> =
            vec![exe.into(), "__launch".into(), suite_path.into(), id.as_str().into()];
        let csv_path = self.out_dir.join(format!("{side}-{}.csv", n + 1));
        let log_path = self.out_dir.join(format!("{side}-{}.log", n + 1));
        crate::log::info(format_args!(
            "profile: {side} {} (kernel {})",
            escape::terminal(id.as_str()),
            escape::terminal(&kernel)
        ));
        let attempt = |full: bool| {
            let result = run_ncu(ncu::command(&self.ncu, &kernel, &program, full), &csv_path, &log_path);
            let text = std::fs::read_to_string(&csv_path).unwrap_or_default();
            let parsed = ncu::parse_csv(&text).map_err(|e| e.to_string());
            (result, text, parsed)
        };
        let (mut result, mut text, mut parsed) = attempt(true);
        if !parsed.as_ref().is_ok_and(|p| !p.is_empty()) {
            // An ncu or GPU without one of the extra metrics refuses the whole list: retry without them.
            crate::log::info(format_args!(
                "profile: retrying {} at {side} with the basic metrics",
                escape::terminal(id.as_str())
            ));
            (result, text, parsed) = attempt(false);
        }
        let profiled = match (result, parsed) {
            (_, Ok(profiles)) if !profiles.is_empty() => Ok(profiles.into_iter().next().unwrap_or_default()),
            (Err(why), _) => Err(why),
            (Ok(()), Err(why)) => Err(why),
            (Ok(()), Ok(_)) => Err(format!("ncu profiled no launch of `{kernel}`")),
        };
        profiled.map_err(|why| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let errors: Vec<&str> =
                log.lines().chain(text.lines()).filter(|l| l.contains("==ERROR==")).take(3).collect();
            let detail = if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) };
            warn(&format!("Nsight Compute could not profile {id} at {side}: {why}{detail}"))
        })
    }
}

/// Runs ncu with its output in files. ncu and the program it profiles run in a process group of their
/// own, killed as a whole after [`NCU_TIMEOUT`] or when pawl is interrupted.
fn run_ncu(command: pawl_supervise::Command, csv: &Path, log: &Path) -> std::result::Result<(), String> {
    let stdout = File::create(csv).map_err(|e| format!("cannot create {}: {e}", csv.display()))?;
    let stderr = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut ncu = command
        .stdin(Stdin::Null)
        .stdout(Stdout::File(stdout))
        .stderr(Stderr::File(stderr))
        .spawn()
        .map_err(|e| match e {
            pawl_supervise::Error::Spawn { source, .. } => format!("cannot start ncu: {source}"),
            other => other.to_string(),
        })?;
    match ncu.wait(pawl_supervise::deadline_after(NCU_TIMEOUT)) {
        Some(exit) if exit.success() => Ok(()),
        Some(exit) => Err(format!("ncu exited with {exit}")),
        None => {
            ncu.kill();
            Err(format!("ncu took longer than {} s and was stopped", NCU_TIMEOUT.as_secs()))
        }
    }
}

/// One row of a case's table.
#[derive(Debug)]
struct Row {
    label: String,
    kind: Kind,
    base: Option<f64>,
    head: Option<f64>,
}

impl Row {
    /// How much the row changed, from 0 (not at all) to 1, for ordering. Small values are measured
    /// against a floor so that 0.01 → 0.03 cycles of a minor stall does not outrank real changes.
    fn change(&self) -> f64 {
        let (Some(b), Some(h)) = (self.base, self.head) else { return 0.0 };
        let floor = match self.kind {
            Kind::Percent => 5.0,
            Kind::Ratio => 0.5,
            Kind::Duration | Kind::Count | Kind::Bytes => f64::MIN_POSITIVE,
        };
        let scale = b.abs().max(h.abs()).max(floor);
        (h - b).abs() / scale
    }
}

/// The markdown section: a table per case, rows ordered by how much they changed (duration first).
fn render(cases: &[CaseProfiles], base: Option<&str>, notes: &[String], max_rows: usize) -> String {
    let mut md = String::new();
    // Writing to a String cannot fail; the results of `writeln!` are ignored below.
    let _ = match base {
        Some(rev) => {
            writeln!(md, "### Nsight Compute: regressed cases at base {} and head\n", escape_markdown(rev))
        }
        None => writeln!(md, "### Nsight Compute: regressed cases at head\n"),
    };
    let _ = writeln!(
        md,
        "One launch of each case under `ncu --clock-control none`; the rows are the metrics that changed \
         most. Stall rows are the cycles a warp waits for that reason per issued instruction.\n"
    );
    for note in notes {
        let _ = writeln!(md, "> {}\n", escape_markdown(note));
    }
    for case in cases {
        let _ = write!(md, "#### {}", escape_markdown(case.id.as_str()));
        if let Ok(profile) = &case.head {
            let _ = write!(md, " · kernel {}", escape_markdown(&profile.kernel));
        }
        let _ = writeln!(md, "\n");
        let head = match &case.head {
            Ok(profile) => profile,
            Err(why) => {
                let _ = writeln!(md, "No profile at head: {}\n", escape_markdown(why));
                continue;
            }
        };
        let base_profile = match &case.base {
            Some(Ok(profile)) => Some(profile),
            Some(Err(why)) => {
                let _ = writeln!(md, "No profile at base: {}\n", escape_markdown(why));
                None
            }
            None => None,
        };
        let rows = rows(base_profile, head, max_rows);
        match (base, base_profile) {
            (Some(rev), Some(_)) => {
                let _ = writeln!(
                    md,
                    "| metric | base {} | head | change |\n|:--|--:|--:|--:|",
                    escape_markdown(rev)
                );
                for row in &rows {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} |",
                        row.label,
                        value(row.kind, row.base),
                        value(row.kind, row.head),
                        change(row)
                    );
                }
            }
            _ => {
                let _ = writeln!(md, "| metric | head |\n|:--|--:|");
                for row in &rows {
                    let _ = writeln!(md, "| {} | {} |", row.label, value(row.kind, row.head));
                }
            }
        }
        let _ = writeln!(md);
    }
    md
}

/// The rows of one case: every metric and the top stall reasons of either side, duration first, then
/// by how much they changed; at most `max_rows`.
fn rows(base: Option<&KernelProfile>, head: &KernelProfile, max_rows: usize) -> Vec<Row> {
    let get = |p: Option<&KernelProfile>, name: &str| p.and_then(|p| p.get(name));
    let mut rows: Vec<Row> = METRICS
        .iter()
        .map(|m| Row {
            label: m.label.to_owned(),
            kind: m.kind,
            base: get(base, m.name),
            head: head.get(m.name),
        })
        .filter(|r| r.base.is_some() || r.head.is_some())
        .collect();
    let mut reasons: Vec<String> = head.stalls().into_iter().take(TOP_STALLS).map(|(r, _)| r).collect();
    for (reason, _) in base.map(|b| b.stalls()).unwrap_or_default().into_iter().take(TOP_STALLS) {
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    for reason in reasons {
        let name = format!("{}{reason}{}", ncu::STALL_PREFIX, ncu::STALL_SUFFIX);
        rows.push(Row {
            label: format!("stall: {}", reason.replace('_', " ")),
            kind: Kind::Ratio,
            base: get(base, &name),
            head: head.get(&name),
        });
    }
    let (first, mut rest): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.kind == Kind::Duration);
    if base.is_some() {
        // Stable: rows that changed alike keep the metric order.
        rest.sort_by(|a, b| b.change().total_cmp(&a.change()));
    }
    first.into_iter().chain(rest).take(max_rows.max(1)).collect()
}

fn value(kind: Kind, v: Option<f64>) -> String {
    let Some(v) = v else { return "—".to_owned() };
    match kind {
        Kind::Duration => duration(v),
        Kind::Percent => format!("{v:.1}%"),
        Kind::Count if v.fract() == 0.0 => format!("{v:.0}"),
        Kind::Count => format!("{v:.1}"),
        Kind::Bytes => bytes(v),
        Kind::Ratio => format!("{v:.2}"),
    }
}

fn bytes(v: f64) -> String {
    const UNITS: [(f64, &str); 3] =
        [(1024.0 * 1024.0 * 1024.0, "GiB"), (1024.0 * 1024.0, "MiB"), (1024.0, "KiB")];
    for (scale, unit) in UNITS {
        if v >= scale {
            return format!("{:.1} {unit}", v / scale);
        }
    }
    format!("{v:.0} B")
}

fn change(row: &Row) -> String {
    let (Some(b), Some(h)) = (row.base, row.head) else { return "—".to_owned() };
    if h == b {
        return "=".to_owned();
    }
    match row.kind {
        Kind::Percent => format!("{:+.1} pts", h - b),
        _ if b == 0.0 => "from 0".to_owned(),
        _ => format!("{:+.1}%", (h / b - 1.0) * 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(values: &[(&str, f64)]) -> KernelProfile {
        KernelProfile {
            kernel: "copy_vec4".into(),
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn rows_put_duration_first_then_what_changed_most() {
        let stall = |r: &str| format!("{}{r}{}", ncu::STALL_PREFIX, ncu::STALL_SUFFIX);
        let base = profile(&[
            ("gpu__time_duration.sum", 40_000.0),
            ("launch__block_size", 256.0),
            ("launch__registers_per_thread", 16.0),
            ("sm__warps_active.avg.pct_of_peak_sustained_active", 90.0),
            (&stall("long_scoreboard"), 20.0),
        ]);
        let head = profile(&[
            ("gpu__time_duration.sum", 60_000.0),
            ("launch__block_size", 32.0),
            ("launch__registers_per_thread", 16.0),
            ("sm__warps_active.avg.pct_of_peak_sustained_active", 45.0),
            (&stall("long_scoreboard"), 30.0),
        ]);
        let rows = rows(Some(&base), &head, 4);
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["duration", "block size", "achieved occupancy", "stall: long scoreboard"]);
        assert_eq!(change(&rows[0]), "+50.0%");
        assert_eq!(change(&rows[2]), "-45.0 pts");
        let md = render(
            &[CaseProfiles { id: CaseId::from_raw("copy/N=4"), head: Ok(head), base: Some(Ok(base)) }],
            Some("main"),
            &[],
            4,
        );
        assert!(md.contains("| duration | 40.0 µs | 60.0 µs | +50.0% |"), "{md}");
        assert!(md.contains("| block size | 256 | 32 | -87.5% |"), "{md}");
    }

    #[test]
    fn a_failed_side_is_said_in_words() {
        let md = render(
            &[CaseProfiles {
                id: CaseId::from_raw("copy/N=4"),
                head: Err("ncu exited with exit status: 1".into()),
                base: None,
            }],
            None,
            &[],
            12,
        );
        assert!(md.contains("No profile at head: ncu exited with exit status: 1"), "{md}");
    }
}
