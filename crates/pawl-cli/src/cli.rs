//! Command-line arguments, as clap parses them. Validation into settings happens in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pawl_core::report::Format;
use pawl_core::shard::{Shard, ShardError};
use pawl_cuda::devices::GpuSelection;

use crate::forge::ForgeKind;

/// `pawl ab`'s default cap on interleaved pairs per case (also used by `pawl check --ab-base`).
pub const AB_MAX_PAIRS: usize = 2000;

#[derive(Debug, Parser)]
#[command(
    name = "pawl",
    version,
    about = "A performance ratchet for GPU kernels",
    long_about = "A performance ratchet for GPU kernels: measure a suite (pawl.toml), compare every case \
                  with a baseline, fail CI on a real regression, and move the baseline up when performance \
                  improves.",
    after_help = "Start with `pawl init --command` (runs without a GPU) or `pawl init --cuda`, then `pawl \
                  validate --list` and `pawl run`. Exit codes: 0 no regression, 1 a regression or a failed \
                  case, 2 a usage or runtime error. Wherever pawl writes a file, `-` means standard output.",
    max_term_width = 100
)]
pub struct Cli {
    /// Print only warnings and errors on standard error: no progress bar, no notes on what was done.
    #[arg(short, long, global = true, conflicts_with = "verbose", display_order = 900)]
    pub quiet: bool,
    /// Print more: every case's reason and notes in full under the table (which shows a few words).
    #[arg(short, long, global = true, display_order = 901)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn log_level(&self) -> crate::log::Level {
        match (self.quiet, self.verbose) {
            (true, _) => crate::log::Level::Quiet,
            (_, true) => crate::log::Level::Verbose,
            _ => crate::log::Level::Normal,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter suite (pawl.toml and the files it names) to begin from.
    Init(InitArgs),
    /// Check a suite file and list its cases.
    Validate(ValidateArgs),
    /// Measure a suite and write a run file.
    Run(RunArgs),
    /// Compare a run with an older run or a baseline, and print verdicts.
    Compare(CompareArgs),
    /// Turn nvbench, Google Benchmark, Kernel Tuner or pytest-benchmark results into a run file.
    Import(ImportArgs),
    /// Join run files (the shards of one suite, or parts measured apart) into one run file.
    Merge(MergeArgs),
    /// Compare a run with the baseline and move the baseline up where performance improved.
    Ratchet(RatchetArgs),
    /// What CI runs: measure (or read a run), compare with the baseline, write every report.
    Check(CheckArgs),
    /// Compare two git revisions' kernels, interleaved on one GPU in one process (paired A/B).
    Ab(AbArgs),
    /// Show this machine as pawl sees it (CPU, NVIDIA driver, NVRTC, Nsight Compute, the GPU and its
    /// clocks) and warn about anything that hurts measurement; works without a GPU.
    Env(EnvArgs),
    /// The history of runs: import, list, show a case, find change points, plot, write the HTML report.
    History(HistoryArgs),
    /// Create or update the one comment of a suite on a pull request (GitHub) or merge request (GitLab).
    Comment(CommentArgs),
    /// Profile the regressed cases with Nsight Compute, on head and on a base revision, side by side.
    Profile(ProfileArgs),
    /// Search the benches' tune parameters for faster, verified configurations within a time budget;
    /// write suggestions.md, suggestions.patch and tuning.json.
    Tune(TuneArgs),
    /// Measure this GPU's ceilings (DRAM, L2, FP32, tensor cores) and keep them for its runs.
    Ceilings(CeilingsArgs),
    /// Turn run files into the comparison report: tables with honest winners, figures, rooflines.
    Report(SotaReportArgs),
    /// Print a shell's completion script: `pawl completions bash > /etc/bash_completion.d/pawl`.
    Completions(CompletionsArgs),
    /// Write pawl's manual pages (roff): `pawl man | man -l -`, or one page per command with --dir.
    Man(ManArgs),
    /// Internal: the process that runs the ceiling probes for `pawl ceilings`.
    #[command(name = "__ceilings", hide = true)]
    CeilingProbes {
        #[arg(long, default_value_t = 100)]
        samples: usize,
    },
    /// Internal: compile and launch one case, for `pawl profile` to run under Nsight Compute.
    #[command(name = "__launch", hide = true)]
    Launch(LaunchArgs),
    /// Internal: the CUDA worker process that `pawl run` and `pawl ab` start.
    #[command(name = "__worker", hide = true)]
    Worker,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to write the suite into; created when missing.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// A CUDA kernel and its reference, compiled with NVRTC and timed on the GPU [default when an
    /// NVIDIA driver is found].
    #[arg(long, conflicts_with = "command")]
    pub cuda: bool,
    /// A harness in Python that times CPU work: runs on any machine, no GPU needed [default without an
    /// NVIDIA driver].
    #[arg(long)]
    pub command: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write pawl.1 and one page per command (pawl-run.1, …) into this folder instead of printing
    /// pawl.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The suite file.
    #[arg(default_value = "pawl.toml")]
    pub suite: PathBuf,
    /// List every case the suite expands to.
    #[arg(long)]
    pub list: bool,
}

/// Which cases to measure and how.
#[derive(Debug, Args, Clone)]
pub struct MeasureArgs {
    /// Only this bench.
    #[arg(long, value_name = "NAME")]
    pub bench: Option<String>,
    /// Only the cases for which this expression over params is true, e.g. 'S >= 2048'.
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Leave L2 warm between samples instead of flushing it.
    #[arg(long)]
    pub warm_cache: bool,
    /// Stop a case when the median's interval is within ± this fraction.
    #[arg(long, value_name = "FRACTION")]
    pub target_rel_ci: Option<f64>,
    /// Fewest samples per case.
    #[arg(long, value_name = "N")]
    pub min_samples: Option<usize>,
    /// Most samples per case.
    #[arg(long, value_name = "N")]
    pub max_samples: Option<usize>,
    /// Most seconds of measuring per case.
    #[arg(long, value_name = "SECONDS")]
    pub max_time: Option<f64>,
    /// Seconds after which a hung case is stopped and failed.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Seed of the random inputs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Time CUDA kernels as back-to-back launches in a captured CUDA graph: warm-cache throughput per
    /// launch, for kernels of a few microseconds (a different quantity from a cold single launch).
    #[arg(long)]
    pub graph: bool,
}

/// Which GPUs of this host measure, one worker pinned to each, and how long each case takes. A command
/// that measures takes these with one `#[command(flatten)]`.
#[derive(Debug, Args, Clone, Default)]
pub struct GpuArgs {
    /// Measure on several GPUs of this host at once, one worker pinned to each: `all`, or indices as a
    /// CUDA program beside pawl numbers them (`0,2,3`). The GPUs must be of one model.
    #[arg(long, value_name = "all|0,2,3")]
    pub gpus: Option<GpuSelection>,
    /// How long each case takes, to hand the longest out first (--gpus) and balance shards (--shard): a
    /// previous run file (or a baseline) [default: the suite's baseline, where it exists].
    #[arg(long, value_name = "RUN.json")]
    pub estimates: Option<PathBuf>,
}

/// `--shard`: this runner's part of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// From the batch scheduler's environment (Kubernetes Indexed Job, Slurm array).
    Auto,
    Given(Shard),
}

impl std::str::FromStr for ShardArg {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardArg, ShardError> {
        if text.trim() == "auto" { Ok(ShardArg::Auto) } else { text.parse().map(ShardArg::Given) }
    }
}

impl ShardArg {
    /// The shard, reading the scheduler's environment for `auto`.
    pub fn resolve(self) -> Result<Shard, ShardError> {
        match self {
            ShardArg::Given(shard) => Ok(shard),
            ShardArg::Auto => Shard::from_scheduler(&|name| std::env::var(name).ok()),
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The suite file.
    #[arg(default_value = "pawl.toml")]
    pub suite: PathBuf,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub gpus: GpuArgs,
    /// Measure only this runner's share of the cases: `i/n` (1 ≤ i ≤ n), or `auto` in a Kubernetes
    /// Indexed Job (with PAWL_SHARD_COUNT) or a Slurm array. `pawl merge` joins the shards' run files.
    #[arg(long, value_name = "i/n|auto")]
    pub shard: Option<ShardArg>,
    /// Where to write the run file.
    #[arg(short, long, value_name = "FILE", default_value = "pawl-run.json")]
    pub output: PathBuf,
    /// Do not record the run in the history.
    #[arg(long)]
    pub no_history: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The run files: every shard of one split (`--shard`), or runs measured apart, of one suite,
    /// testbed, commit and settings.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Where to write the merged run file.
    #[arg(short, long, value_name = "FILE", default_value = "pawl-run.json")]
    pub output: PathBuf,
}

/// How differences are judged; each overrides the suite's value.
#[derive(Debug, Args, Clone)]
pub struct JudgeArgs {
    /// Relative change that counts (default 0.02, or the suite's).
    #[arg(long, value_name = "FRACTION")]
    pub tolerance: Option<f64>,
    /// Confidence level of intervals and decisions (default 0.99, or the suite's).
    #[arg(long, value_name = "LEVEL")]
    pub confidence: Option<f64>,
    /// Allowance for drift between processes against a stored baseline (default 0.01, or the suite's).
    #[arg(long, value_name = "FRACTION")]
    pub drift: Option<f64>,
    /// The same allowance in nanoseconds, used where it is the larger, for kernels of a few microseconds
    /// (default 250, or the suite's `drift_ns`: the shifts measured on an H100; 0 turns it off).
    #[arg(long, value_name = "NS")]
    pub drift_ns: Option<f64>,
    /// Compare even when the two sides come from different testbeds (GPU, driver or CUDA major).
    #[arg(long)]
    pub force: bool,
    /// Seed of the bootstrap resampling.
    #[arg(long, default_value_t = 0)]
    pub bootstrap_seed: u64,
}

/// Where and how to write a report.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Report format.
    #[arg(long, default_value = "human", value_name = "human|json|markdown|junit|github")]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The older side: a run file or a baseline file.
    pub old: PathBuf,
    /// The newer side: a run file.
    pub new: PathBuf,
    /// Take tolerance, confidence and drift from this suite file [default: ./pawl.toml when it is the
    /// runs' own suite (same name), else pawl's defaults; the report's header says which].
    #[arg(long, value_name = "SUITE")]
    pub suite: Option<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The result files, all of one benchmark suite and one testbed.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The tool that wrote the files; `auto` tells by their fields.
    #[arg(long, default_value = "auto", value_name = "auto|nvbench|gbench|kernel-tuner|pytest-benchmark")]
    pub format: ImportFormat,
    /// Where to write the run file.
    #[arg(short, long, value_name = "FILE", default_value = "pawl-run.json")]
    pub output: PathBuf,
    /// The run's suite name [default: the first file's name without its extension].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `--format` of `pawl import`: a known format, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Auto,
    Known(pawl_core::import::Format),
}

impl std::str::FromStr for ImportFormat {
    type Err = pawl_core::import::UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" { Ok(ImportFormat::Auto) } else { s.parse().map(ImportFormat::Known) }
    }
}

#[derive(Debug, Args)]
pub struct RatchetArgs {
    /// The baseline file to compare with and update.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// The run file; without it, the suite is measured first.
    pub run: Option<PathBuf>,
    /// The suite file: thresholds, the baseline path, and what to measure when no run file is given
    /// [default: pawl.toml; with a run file, ./pawl.toml only when it is the run's own suite].
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// Add cases the baseline does not have yet (also creates a missing baseline file).
    #[arg(long)]
    pub accept_new: bool,
    /// Write the baseline where it moved (what `pawl ratchet` does unless --dry-run; spell it out in CI
    /// so the step says what it is for).
    #[arg(long, conflicts_with = "dry_run")]
    pub update: bool,
    /// Compare and report, but leave the baseline file as it is.
    #[arg(long)]
    pub dry_run: bool,
    /// After writing the baseline, commit that file alone (nothing else staged goes in) with a message
    /// listing what moved. Nothing is committed when nothing moved.
    #[arg(long, conflicts_with = "dry_run")]
    pub git_commit: bool,
    /// Write the ids of regressed cases here, one per line, for `pawl profile`.
    #[arg(long, value_name = "FILE")]
    pub profile_targets: Option<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub gpus: GpuArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The suite file.
    #[arg(default_value = "pawl.toml")]
    pub suite: PathBuf,
    /// Use this run file instead of measuring.
    #[arg(long, value_name = "FILE")]
    pub run: Option<PathBuf>,
    /// Measure only this runner's share of the cases (`i/n` or `auto`, as `pawl run --shard`) and
    /// compare those with the baseline; a final `pawl check --merge` judges the whole suite.
    #[arg(long, value_name = "i/n|auto", conflicts_with_all = ["run", "ab_base"])]
    pub shard: Option<ShardArg>,
    /// Join these run files (every shard's) instead of measuring, keep the merged run at --save-run, and
    /// compare it with the baseline: the one report of a sharded check.
    #[arg(long, value_name = "RUN", num_args = 1.., conflicts_with_all = ["run", "ab_base", "shard"])]
    pub merge: Vec<PathBuf>,
    /// The baseline file (default: the suite's `baseline`).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Where to keep the run file when measuring.
    #[arg(long, value_name = "FILE", default_value = "pawl-run.json")]
    pub save_run: PathBuf,
    /// Write the markdown report (the PR comment) here.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the JUnit report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the ids of regressed cases here, one per line, for `pawl profile` (even when none
    /// regressed) [default: profile_targets.txt, written only when a case regressed].
    #[arg(long, value_name = "FILE")]
    pub profile_targets: Option<PathBuf>,
    /// Append this markdown file (for example `pawl profile`'s table) to the markdown report; repeatable.
    #[arg(long, value_name = "FILE")]
    pub extra_markdown: Vec<PathBuf>,
    /// Paired mode: compare the working tree with this revision in one process (`pawl ab`) instead of
    /// with the stored baseline.
    #[arg(long, value_name = "REV", conflicts_with_all = ["run", "baseline"])]
    pub ab_base: Option<String>,
    /// Measuring time for all cases together in paired mode: `60s`, `2m`, or seconds.
    #[arg(long, default_value = "60s", value_name = "TIME", requires = "ab_base")]
    pub ab_budget: String,
    /// The GPU machine's price per hour in US dollars: the reports show what the check cost
    /// [default: the suite's `gpu_price_per_hour`].
    #[arg(long, value_name = "DOLLARS", env = "PAWL_GPU_PRICE_PER_HOUR", value_parser = PricePerHour::parse)]
    pub gpu_price_per_hour: Option<PricePerHour>,
    /// Do not record the run (or the A/B runs) in the history.
    #[arg(long)]
    pub no_history: bool,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub gpus: GpuArgs,
}

/// A price per hour in US dollars; empty (a CI variable that is not set) is none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PricePerHour(pub Option<f64>);

impl PricePerHour {
    fn parse(text: &str) -> Result<PricePerHour, String> {
        if text.trim().is_empty() {
            return Ok(PricePerHour(None));
        }
        let limit = pawl_core::suite::limits::GPU_PRICE_PER_HOUR;
        match text.trim().parse::<f64>().ok().and_then(|price| limit.check(price).ok()) {
            Some(price) => Ok(PricePerHour(Some(price))),
            None => Err(format!("`{text}` is not a price: give {}", limit.allowed)),
        }
    }
}

#[derive(Debug, Args)]
#[command(
    group = clap::ArgGroup::new("source").required(true).args(["body", "from_check"]),
    after_help = "Environment:\n  \
        GitHub: GITHUB_TOKEN (the token to post with), GITHUB_REPOSITORY (owner/name), GITHUB_API_URL \
        [default: https://api.github.com].\n  \
        GitLab: PAWL_GITLAB_TOKEN (a token with the api scope), CI_API_V4_URL, CI_PROJECT_ID; GITLAB_CI=true \
        picks GitLab when --forge is not given.\n  \
        GITHUB_STEP_SUMMARY: where the comment goes instead when the token may not write, the forge \
        cannot be reached or answers with a server error (exit 0, with a warning); without it, standard \
        output."
)]
pub struct CommentArgs {
    /// The pull request's number (GitHub), or the merge request's IID (GitLab).
    #[arg(long, visible_alias = "mr", value_name = "N")]
    pub pr: u64,
    /// The forge [default: gitlab inside GitLab CI (GITLAB_CI=true), else github].
    #[arg(long, value_enum)]
    pub forge: Option<ForgeKind>,
    /// The account pawl posts as, where the API cannot say: a GitHub App's `NAME[bot]` (the Actions
    /// token is `github-actions[bot]`, found without this). Only its comments are ever updated.
    #[arg(long, value_name = "LOGIN")]
    pub author: Option<String>,
    /// The comment's markdown. Its first line must be the suite's marker (`pawl check --markdown` writes
    /// it) unless --suite is given.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Render the comment from the JSON report `pawl check --json` wrote, with --extra-markdown sections
    /// appended, sized to fit the comment limit.
    #[arg(long, value_name = "REPORT.json")]
    pub from_check: Option<PathBuf>,
    /// Append this markdown file (for example `pawl profile`'s table); repeatable. With --from-check.
    #[arg(long, value_name = "FILE", requires = "from_check")]
    pub extra_markdown: Vec<PathBuf>,
    /// The suite whose comment this is, when the body carries no marker.
    #[arg(long, value_name = "NAME", conflicts_with = "from_check")]
    pub suite: Option<String>,
    /// Where the full report is (a link to the run's artifacts), for the note of a shortened comment.
    #[arg(long, value_name = "MARKDOWN")]
    pub artifact_hint: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The suite file.
    #[arg(default_value = "pawl.toml")]
    pub suite: PathBuf,
    /// The cases to profile, one id a line (what `pawl check` writes).
    #[arg(long, value_name = "FILE", default_value = "profile_targets.txt")]
    pub targets: PathBuf,
    /// Also profile the same cases at this git revision (its sources are taken into a temporary folder).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Where to write the raw Nsight Compute CSVs and `profile.md`.
    #[arg(long, value_name = "DIR", default_value = "pawl-profile")]
    pub out_dir: PathBuf,
    /// The Nsight Compute command line program [default: `ncu` on PATH].
    #[arg(long, value_name = "PATH", env = "PAWL_NCU")]
    pub ncu: Option<PathBuf>,
    /// Profile at most this many cases (the first ones listed).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_cases: usize,
    /// Rows of each case's table: the metrics that changed most.
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub rows: usize,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The suite file (with --replay: the suite to patch, when it exists).
    #[arg(default_value = "pawl.toml")]
    pub suite: PathBuf,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Wall time for the whole tune: `10m`, `90s` or seconds [default: 10m]. With --replay, time on
    /// the recording's clock [default: the recording's budget, or 25% of its exhaustive measuring
    /// time], also as a share of that time: `25%`.
    #[arg(long, value_name = "TIME")]
    pub budget: Option<String>,
    /// Where to write suggestions.md, suggestions.patch, tuning.json and the measurement cache.
    #[arg(short, long = "out-dir", value_name = "DIR", default_value = "tuning")]
    pub out_dir: PathBuf,
    /// Ignore the measurement cache: measure every configuration anew.
    #[arg(long)]
    pub fresh: bool,
    /// Search a recorded tuning.json instead of measuring (no GPU needed).
    #[arg(long, value_name = "TUNING.json", conflicts_with = "exhaustive")]
    pub replay: Option<PathBuf>,
    /// Measure every configuration fully, as `pawl run` would, within the budget: a recording for
    /// --replay.
    #[arg(long)]
    pub exhaustive: bool,
    /// A speed-up smaller than this is no reason to change (default 0.02, or the suite's).
    #[arg(long, value_name = "FRACTION")]
    pub tolerance: Option<f64>,
    /// Confidence level of the speed-up intervals (default 0.99, or the suite's).
    #[arg(long, value_name = "LEVEL")]
    pub confidence: Option<f64>,
    /// Most interleaved pairs per finalist in the final comparison with the default.
    #[arg(long, default_value_t = 400, value_name = "N")]
    pub max_pairs: usize,
    /// Tune on several GPUs of this host at once, each tuning every n-th case within the budget, its
    /// workers pinned to it: `all`, or indices as a CUDA program beside pawl numbers them (`0,2,3`).
    /// The GPUs must be of one model.
    #[arg(long, value_name = "all|0,2,3", conflicts_with = "replay")]
    pub gpus: Option<GpuSelection>,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The suite file.
    pub suite: PathBuf,
    /// The case to launch.
    pub case: String,
    /// How many launches.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Print the report as JSON (always JSON, also where parts are missing).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CeilingsArgs {
    /// Measure again even where this GPU and driver have ceilings already.
    #[arg(long)]
    pub refresh: bool,
    /// Samples per ceiling.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub samples: usize,
    /// Also write the ceilings to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the ceilings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SotaReportArgs {
    /// Run files of one GPU model; each implementation at each configuration once across them.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// The folder to write report.md, report.html, report.json and figures/ into.
    #[arg(short, long, value_name = "DIR", default_value = "pawl-report")]
    pub output: PathBuf,
    /// The implementation speed-ups are measured against (default: sdpa_flash where present, else the
    /// first).
    #[arg(long, value_name = "IMPL")]
    pub reference: Option<String>,
    /// Level of every interval.
    #[arg(long, default_value_t = 0.95, value_name = "LEVEL")]
    pub confidence: f64,
    /// Seed of the bootstrap intervals.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub bootstrap_seed: u64,
    /// Ceilings to draw the rooflines with (a `pawl ceilings -o` file), in place of the runs' own.
    #[arg(long, value_name = "FILE")]
    pub ceilings: Option<PathBuf>,
    /// Versions of the software measured: a JSON object of names and versions, for the
    /// reproducibility section.
    #[arg(long, value_name = "FILE")]
    pub software: Option<PathBuf>,
    /// The commands that made the run files, one a line, for the reproducibility section.
    #[arg(long, value_name = "FILE")]
    pub commands: Option<PathBuf>,
    /// The report's title.
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct AbArgs {
    /// The base revision (branch, tag or commit), e.g. origin/main.
    #[arg(long, value_name = "REV")]
    pub base: String,
    /// The head revision [default: the working tree, uncommitted changes included].
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// The suite file, in the working tree; the same path is read from each revision.
    #[arg(default_value = "pawl.toml")]
    pub suite: PathBuf,
    /// Only this bench.
    #[arg(long, value_name = "NAME")]
    pub bench: Option<String>,
    /// Only the cases for which this expression over params is true, e.g. 'S >= 2048'.
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Measuring time for all cases together: `60s`, `2m`, or seconds.
    #[arg(long, default_value = "60s", value_name = "TIME")]
    pub budget: String,
    /// Most interleaved pairs per case.
    #[arg(long, default_value_t = AB_MAX_PAIRS, value_name = "N")]
    pub max_pairs: usize,
    /// Measure cases whose code is identical in both revisions instead of skipping them (A/A tests).
    #[arg(long)]
    pub measure_identical: bool,
    /// Seed of the random inputs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Do not record the two sides in the history.
    #[arg(long)]
    pub no_history: bool,
    // --gpus: the cases split over several GPUs, each GPU's worker measuring its share paired, with the
    // whole --budget; --estimates balances the split.
    #[command(flatten)]
    pub gpus: GpuArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: HistoryCommand,
}

/// Which history, and which suite's part of it.
#[derive(Debug, Args, Clone)]
pub struct HistoryPlace {
    /// The history: a SQLite file or a `postgres://` URL [default: $PAWL_HISTORY, else the suite's
    /// `history`].
    #[arg(long, value_name = "LOCATION")]
    pub history: Option<String>,
    /// The suite file: its `history`, its name (only its runs are read), thresholds and baseline
    /// [default: pawl.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
}

/// Output of the history commands that print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    Human,
    Json,
}

/// How change points are found (Otava's defaults).
#[derive(Debug, Args, Clone)]
pub struct ChangeArgs {
    /// Runs per window of the E-divisive search.
    #[arg(long, value_name = "RUNS", default_value_t = 50)]
    pub window: usize,
    /// Largest p-value of a change.
    #[arg(long, value_name = "P", default_value_t = 0.001)]
    pub max_p: f64,
    /// Smallest relative change of level that counts (0.005 is 0.5%).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.005)]
    pub min_magnitude: f64,
    /// Fewest runs at a level: shorter excursions (a spike) are not changes.
    #[arg(long, value_name = "RUNS", default_value_t = 3)]
    pub min_segment: usize,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Record run files in the history (a run already there is not recorded twice).
    Add {
        /// Run files, as `pawl run` writes them.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        #[command(flatten)]
        place: HistoryPlace,
    },
    /// The runs recorded, newest first.
    List {
        /// Show at most this many runs.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Only runs since this date (2026-05-20 or RFC 3339) or commit.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t = HistoryFormat::Human)]
        format: HistoryFormat,
        #[command(flatten)]
        place: HistoryPlace,
    },
    /// One case over time: every run's median and interval, and where its level changed.
    Show {
        /// The case id, such as `copy/N=1048576`.
        case: String,
        #[arg(long, value_enum, default_value_t = HistoryFormat::Human)]
        format: HistoryFormat,
        #[command(flatten)]
        changes: ChangeArgs,
        #[command(flatten)]
        place: HistoryPlace,
    },
    /// Where each case's level changed, per testbed. Exit 1 when a change since --since made a case
    /// slower by more than the tolerance.
    Changes {
        /// Only this case.
        #[arg(long, value_name = "ID")]
        case: Option<String>,
        /// Only report changes since this date (2026-05-20 or RFC 3339) or commit; earlier runs still
        /// set the level before.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// A slowdown beyond this fraction is a regression (default 0.02, or the suite's).
        #[arg(long, value_name = "FRACTION")]
        tolerance: Option<f64>,
        #[arg(long, value_enum, default_value_t = HistoryFormat::Human)]
        format: HistoryFormat,
        #[command(flatten)]
        changes: ChangeArgs,
        #[command(flatten)]
        place: HistoryPlace,
    },
    /// Trend plots: one SVG and one PNG per case and testbed.
    Plot {
        /// Only this case.
        #[arg(long, value_name = "ID")]
        case: Option<String>,
        /// The folder to write the plots into.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        #[command(flatten)]
        changes: ChangeArgs,
        #[command(flatten)]
        place: HistoryPlace,
    },
    /// The HTML report: one self-contained file with every case's trend, change points, latest verdicts
    /// and filters.
    Html {
        /// Where to write the report.
        #[arg(short, long, value_name = "FILE", default_value = "pawl-history.html")]
        output: PathBuf,
        /// A slowdown beyond this fraction is a regression (default 0.02, or the suite's).
        #[arg(long, value_name = "FRACTION")]
        tolerance: Option<f64>,
        #[command(flatten)]
        changes: ChangeArgs,
        #[command(flatten)]
        place: HistoryPlace,
    },
    /// Write a recorded run back out as a run file, raw samples included (for `pawl compare`).
    Export {
        /// The run's key, or the start of it (`pawl history list` shows them).
        key: String,
        /// Where to write the run file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        place: HistoryPlace,
    },
}
