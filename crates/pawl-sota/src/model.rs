//! The comparison as data: which implementation ran which configuration, how fast, with what interval,
//! whether it was checked, who won where, and what the sweep could have detected. Everything the pages
//! and figures show is computed here, once, from the run files.
//!
//! - An **implementation** is a case's bench, or, where the bench has an `impl` parameter (one harness
//!   process measuring several implementations configuration by configuration, sharing each
//!   configuration's reference), that parameter's value.
//! - A **configuration** is a case's parameters without `impl`; cases of different benches with equal
//!   parameters are the same configuration.
//! - A **cell** is one implementation at one configuration: its median time with a percentile
//!   bootstrap interval (seeded), or why there is none.
//! - The **winner** of a configuration is the fastest implementation when its interval lies entirely
//!   below every other's; otherwise the configuration is a **tie** between the fastest and every
//!   implementation whose interval reaches the fastest's.

use std::collections::{BTreeMap, HashMap};

use pawl_core::ceilings::{CeilingKind, Ceilings};
use pawl_core::run::{CaseResult, CaseStatus, Environment, GitInfo, Run};
use pawl_core::stats::{self, BootstrapSettings, Sample, power};
use pawl_core::value::{Params, Value};
use serde::Serialize;

use crate::ReportError;

/// Schema tag of `report.json`.
pub const REPORT_SCHEMA: &str = "pawl-sota-report/1";

/// The parameter that names an implementation within one bench.
pub const IMPL_PARAM: &str = "impl";
/// The parameter along which figures lay configurations out (the roofline's intensity grows with it).
pub const X_PARAM: &str = "S";
/// A parameter folded into the x axis where it varies with [`X_PARAM`] (a grid of fixed tokens).
pub const FOLD_PARAM: &str = "B";

/// How to build the report.
#[derive(Clone, Debug)]
pub struct Options {
    pub title: String,
    /// The implementation speed-ups are computed against; `None`: `sdpa_flash` where present, else the
    /// first implementation.
    pub reference: Option<String>,
    /// Level of every interval (0.95).
    pub confidence: f64,
    /// Power of the detectable-change figures (0.8).
    pub power: f64,
    pub bootstrap: BootstrapSettings,
    /// Ceilings to draw the rooflines with, in place of those in the runs' environment.
    pub ceilings: Option<Ceilings>,
    /// Versions of the software measured (`PyTorch`, `cuDNN`, `Triton` …), as given.
    pub software: Vec<(String, String)>,
    /// The commands that produced the run files, as given.
    pub commands: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: "Attention: implementations compared".to_owned(),
            reference: None,
            confidence: 0.95,
            power: 0.8,
            bootstrap: BootstrapSettings { resamples: 10_000, seed: 0 },
            ceilings: None,
            software: Vec::new(),
            commands: Vec::new(),
        }
    }
}

/// The whole comparison (what `report.json` holds, less the figures' files).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub title: String,
    pub confidence: f64,
    pub power: f64,
    pub bootstrap_resamples: usize,
    pub bootstrap_seed: u64,
    pub reference: String,
    pub environment: Environment,
    pub ceilings: Option<Ceilings>,
    pub sources: Vec<Source>,
    pub implementations: Vec<String>,
    pub configurations: Vec<Configuration>,
    /// `cells[c][i]`: implementation `i` at configuration `c`.
    pub cells: Vec<Vec<Cell>>,
    pub decisions: Vec<Decision>,
    pub groups: Vec<Group>,
    pub software: Vec<(String, String)>,
    pub commands: Vec<String>,
}

/// One run file the report was made from.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    pub file: String,
    pub suite: String,
    pub timestamp: String,
    pub git: Option<GitInfo>,
    pub seed: u64,
    pub min_samples: usize,
    pub max_samples: usize,
    pub timing: String,
    pub measure_seconds: Option<f64>,
    pub cases: usize,
}

/// One point of the sweep, whatever implementation ran it.
#[derive(Clone, Debug, Serialize)]
pub struct Configuration {
    pub label: String,
    pub params: Params,
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    /// FLOPs per byte: the roofline's x.
    pub intensity: Option<f64>,
    /// The tensor-core ceiling of its dtype, where it has one.
    pub tensor_ceiling: Option<CeilingKind>,
    /// The group whose figures show it.
    pub group: usize,
}

/// What became of one implementation at one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    Measured,
    /// Its output did not match the reference; never timed.
    Wrong,
    Failed,
    Timeout,
    /// The implementation cannot run it (not installed, a size it does not take).
    Skipped,
    /// No run file has this implementation at this configuration.
    NotInSweep,
}

impl CellStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CellStatus::Measured => "measured",
            CellStatus::Wrong => "wrong",
            CellStatus::Failed => "failed",
            CellStatus::Timeout => "timeout",
            CellStatus::Skipped => "skipped",
            CellStatus::NotInSweep => "not in the sweep",
        }
    }
}

/// How a cell's output was checked before it was timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checked {
    /// Matched the reference within the tolerances (by pawl, or by the harness's own comparison).
    Passed,
    Wrong,
    /// No reference was run.
    Unchecked,
}

/// One implementation at one configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub status: CellStatus,
    pub case: Option<String>,
    /// Why it has no time (failed, skipped, not in the sweep).
    pub reason: Option<String>,
    pub checked: Option<Checked>,
    /// ‖out − ref‖₂ / ‖ref‖₂ of the check.
    pub norm_rel_error: Option<f64>,
    pub time: Option<Timing>,
    /// Samples taken while the GPU reported throttling.
    pub throttled_samples: usize,
    /// Median of the reference implementation over this one's (above 1: faster than the reference).
    pub speedup: Option<f64>,
}

/// A measured cell's time and rates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timing {
    pub n: usize,
    pub median_ns: f64,
    /// The percentile bootstrap interval of the median.
    pub low_ns: f64,
    pub high_ns: f64,
    /// TFLOP/s at the median, and at the interval's ends (high time, low rate).
    pub tflops: Option<f64>,
    pub tflops_low: Option<f64>,
    pub tflops_high: Option<f64>,
    pub gbps: Option<f64>,
    /// The rate over the measured roof at this intensity (compute or memory, whichever is lower).
    pub roof_fraction: Option<f64>,
    /// Standard error of ln(median), from the interval.
    pub log_se: f64,
}

/// Who won a configuration, and what the sweep could have told apart there.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// The fastest implementation by median, where any was measured.
    pub fastest: Option<usize>,
    /// The fastest, when its interval clears every other's.
    pub winner: Option<usize>,
    /// When no winner: the fastest and every implementation whose interval reaches the fastest's.
    pub tied: Vec<usize>,
    /// The second fastest by median.
    pub runner_up: Option<usize>,
    /// Runner-up's median over the fastest's.
    pub margin: Option<f64>,
    /// The smallest difference between the two fastest that intervals like theirs would tell apart
    /// with the report's power (0.02 is 2%).
    pub detectable_change: Option<f64>,
}

/// Configurations shown together in one bar figure and one roofline: equal in every parameter but
/// [`X_PARAM`] (and [`FOLD_PARAM`] where it varies with it).
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// File-name-safe name.
    pub slug: String,
    pub title: String,
    /// Configurations in sweep order.
    pub configurations: Vec<usize>,
    /// Each configuration's label within the group (the parameters the group's members differ in).
    pub labels: Vec<String>,
}

/// The implementation a case stands for: its `impl` parameter, else its bench.
pub fn implementation_of(case: &CaseResult) -> String {
    match case.params.get(IMPL_PARAM) {
        Some(value) => value.to_string(),
        None => case.bench.clone(),
    }
}

/// A case's configuration parameters: all but `impl`.
fn configuration_params(case: &CaseResult) -> Params {
    case.params.iter().filter(|(k, _)| *k != IMPL_PARAM).map(|(k, v)| (k.to_owned(), v.clone())).collect()
}

/// Order-independent identity of a configuration.
fn key_of(params: &Params) -> Vec<(String, String)> {
    let mut key: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_owned(), v.to_string())).collect();
    key.sort();
    key
}

impl Report {
    /// Builds the comparison from run files (name, run), in the order given: configurations and
    /// implementations in order of first appearance.
    pub fn build(runs: &[(String, Run)], options: &Options) -> Result<Report, ReportError> {
        if runs.is_empty() {
            return Err(ReportError::Input("no run files: name at least one".to_owned()));
        }
        stats::check_confidence(options.confidence)
            .map_err(|e| ReportError::Input(format!("--confidence: {e}")))?;
        stats::check_confidence(options.power).map_err(|e| ReportError::Input(format!("--power: {e}")))?;
        let environment = one_testbed(runs)?;
        let ceilings =
            options.ceilings.clone().or_else(|| runs.iter().find_map(|(_, r)| r.env.ceilings.clone()));

        let mut implementations: Vec<String> = Vec::new();
        let mut configurations: Vec<Configuration> = Vec::new();
        let mut index: HashMap<Vec<(String, String)>, usize> = HashMap::new();
        let mut found: BTreeMap<(usize, usize), (&str, &CaseResult)> = BTreeMap::new();
        for (file, run) in runs {
            for case in &run.cases {
                let implementation = implementation_of(case);
                let i = match implementations.iter().position(|x| *x == implementation) {
                    Some(i) => i,
                    None => {
                        implementations.push(implementation);
                        implementations.len() - 1
                    }
                };
                let params = configuration_params(case);
                let key = key_of(&params);
                let c = *index.entry(key).or_insert_with(|| {
                    configurations.push(Configuration {
                        label: params.to_id_string(),
                        tensor_ceiling: params
                            .get("dtype")
                            .and_then(|d| d.as_str())
                            .and_then(CeilingKind::tensor_for),
                        params,
                        flops: None,
                        bytes: None,
                        intensity: None,
                        group: 0,
                    });
                    configurations.len() - 1
                });
                let config = &mut configurations[c];
                config.flops = config.flops.or(case.flops);
                config.bytes = config.bytes.or(case.bytes);
                if let Some((other_file, other)) = found.insert((c, i), (file, case)) {
                    return Err(ReportError::Input(format!(
                        "implementation `{}` at `{}` appears twice: `{}` in {other_file} and `{}` in {file}; \
                         a report takes each case once (pawl merge joins shards)",
                        implementations[i], configurations[c].label, other.id, case.id
                    )));
                }
            }
        }
        for config in &mut configurations {
            config.intensity = match (config.flops, config.bytes) {
                (Some(f), Some(b)) if f > 0.0 && b > 0.0 => Some(f / b),
                _ => None,
            };
        }

        let reference = match &options.reference {
            Some(name) if implementations.contains(name) => name.clone(),
            Some(name) => {
                return Err(ReportError::Input(format!(
                    "--reference `{name}` is no implementation of these runs; they have {}",
                    implementations.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
                )));
            }
            None => {
                implementations.iter().find(|i| *i == "sdpa_flash").unwrap_or(&implementations[0]).clone()
            }
        };
        let reference_index = implementations.iter().position(|i| *i == reference).unwrap_or(0);

        let mut cells: Vec<Vec<Cell>> = Vec::with_capacity(configurations.len());
        for (c, config) in configurations.iter().enumerate() {
            let mut row = Vec::with_capacity(implementations.len());
            for (i, implementation) in implementations.iter().enumerate() {
                let cell = match found.get(&(c, i)) {
                    Some((_, case)) => cell_of(case, config, ceilings.as_ref(), options)?,
                    None => Cell {
                        status: CellStatus::NotInSweep,
                        case: None,
                        reason: Some(format!(
                            "no run file has {implementation} at this configuration (its sweep leaves it out)"
                        )),
                        checked: None,
                        norm_rel_error: None,
                        time: None,
                        throttled_samples: 0,
                        speedup: None,
                    },
                };
                row.push(cell);
            }
            let reference_median = row[reference_index].time.as_ref().map(|t| t.median_ns);
            for cell in &mut row {
                cell.speedup = match (&cell.time, reference_median) {
                    (Some(t), Some(r)) => Some(r / t.median_ns),
                    _ => None,
                };
            }
            cells.push(row);
        }
        let decisions = cells.iter().map(|row| decide(row, options)).collect::<Result<Vec<_>, _>>()?;
        let groups = group(&mut configurations);
        let sources = runs
            .iter()
            .map(|(file, run)| Source {
                file: file.clone(),
                suite: run.suite.clone(),
                timestamp: run.timestamp.clone(),
                git: run.git.clone(),
                seed: run.settings.seed,
                min_samples: run.settings.min_samples,
                max_samples: run.settings.max_samples,
                timing: pawl_core::engine::TimingMode::for_settings(&run.settings).as_str().to_owned(),
                measure_seconds: run.measure_seconds,
                cases: run.cases.len(),
            })
            .collect();
        Ok(Report {
            schema: REPORT_SCHEMA,
            title: options.title.clone(),
            confidence: options.confidence,
            power: options.power,
            bootstrap_resamples: options.bootstrap.resamples,
            bootstrap_seed: options.bootstrap.seed,
            reference,
            environment,
            ceilings,
            sources,
            implementations,
            configurations,
            cells,
            decisions,
            groups,
            software: options.software.clone(),
            commands: options.commands.clone(),
        })
    }

    /// The index of the reference implementation.
    pub fn reference_index(&self) -> usize {
        self.implementations.iter().position(|i| *i == self.reference).unwrap_or(0)
    }

    /// Cells measured, and all cells that could have been.
    pub fn counts(&self) -> (usize, usize) {
        let all = self.cells.iter().flatten();
        let measured = all.clone().filter(|c| c.status == CellStatus::Measured).count();
        (measured, self.cells.iter().flatten().filter(|c| c.status != CellStatus::NotInSweep).count())
    }
}

/// The environment of the runs, which must come from one GPU model (a report compares implementations,
/// not machines).
fn one_testbed(runs: &[(String, Run)]) -> Result<Environment, ReportError> {
    let mut chosen: Option<(&str, &Environment)> = None;
    for (file, run) in runs {
        let Some(gpu) = &run.env.gpu else { continue };
        match chosen {
            None => chosen = Some((file, &run.env)),
            Some((first, env)) => {
                let name = env.gpu.as_ref().map(|g| g.name.as_str()).unwrap_or_default();
                if gpu.name != name {
                    return Err(ReportError::Input(format!(
                        "{file} was measured on {} and {first} on {name}; a report compares implementations on \
                         one GPU model: make one report per GPU",
                        gpu.name
                    )));
                }
            }
        }
    }
    Ok(chosen.map_or_else(|| runs[0].1.env.clone(), |(_, env)| env.clone()))
}

fn cell_of(
    case: &CaseResult,
    config: &Configuration,
    ceilings: Option<&Ceilings>,
    options: &Options,
) -> Result<Cell, ReportError> {
    let checked = match (&case.correctness, case.status) {
        (_, CaseStatus::Wrong) => Some(Checked::Wrong),
        (Some(_), _) => Some(Checked::Passed),
        (None, CaseStatus::Ok) => Some(Checked::Unchecked),
        (None, _) => None,
    };
    let status = match case.status {
        CaseStatus::Ok if case.samples_ns.is_empty() => CellStatus::Failed,
        CaseStatus::Ok => CellStatus::Measured,
        CaseStatus::Wrong => CellStatus::Wrong,
        CaseStatus::Failed => CellStatus::Failed,
        CaseStatus::Timeout => CellStatus::Timeout,
        CaseStatus::Skipped => CellStatus::Skipped,
    };
    let mut cell = Cell {
        status,
        case: Some(case.id.to_string()),
        reason: if status == CellStatus::Measured {
            None
        } else {
            Some(case.error.clone().filter(|e| !e.is_empty()).unwrap_or_else(|| {
                if case.samples_ns.is_empty() && case.status == CaseStatus::Ok {
                    "no samples (a tool's summary only)".to_owned()
                } else {
                    case.status.as_str().to_owned()
                }
            }))
        },
        checked,
        norm_rel_error: case.correctness.as_ref().map(|c| c.norm_rel_error),
        time: None,
        throttled_samples: case.throttled_samples,
        speedup: None,
    };
    if status != CellStatus::Measured {
        return Ok(cell);
    }
    let sample =
        Sample::new(&case.samples_ns).map_err(|e| ReportError::Input(format!("case `{}`: {e}", case.id)))?;
    let interval = stats::median_interval(&sample, options.confidence, options.bootstrap)
        .map_err(|e| ReportError::Input(format!("case `{}`: {e}", case.id)))?;
    let rate = |work: Option<f64>, ns: f64, scale: f64| work.map(|w| w / ns * 1e9 / scale);
    let flops = config.flops.or(case.flops);
    let bytes = config.bytes.or(case.bytes);
    let tflops = rate(flops, interval.median, 1e12);
    let roof = roof_at(ceilings, config);
    let log_se = power::log_se_of_interval(interval.low, interval.high, options.confidence)
        .map_err(|e| ReportError::Input(e.to_string()))?
        .unwrap_or(0.0);
    cell.time = Some(Timing {
        n: sample.n(),
        median_ns: interval.median,
        low_ns: interval.low,
        high_ns: interval.high,
        tflops,
        tflops_low: rate(flops, interval.high, 1e12),
        tflops_high: rate(flops, interval.low, 1e12),
        gbps: rate(bytes, interval.median, 1e9),
        roof_fraction: match (tflops, roof) {
            (Some(t), Some(r)) if r > 0.0 => Some(t / r),
            _ => None,
        },
        log_se,
    });
    Ok(cell)
}

/// The measured roof at a configuration's intensity, in TFLOP/s: min(tensor ceiling of its dtype,
/// memory bandwidth × intensity).
pub fn roof_at(ceilings: Option<&Ceilings>, config: &Configuration) -> Option<f64> {
    let ceilings = ceilings?;
    let compute = ceilings.get(config.tensor_ceiling?)?.value;
    let memory = ceilings.memory_roof()?.value * 1e9;
    let intensity = config.intensity?;
    Some(compute.min(memory * intensity / 1e12))
}

/// The winner, or the tie, of one configuration, and what it could have told apart.
fn decide(row: &[Cell], options: &Options) -> Result<Decision, ReportError> {
    let mut measured: Vec<(usize, &Timing)> =
        row.iter().enumerate().filter_map(|(i, c)| c.time.as_ref().map(|t| (i, t))).collect();
    measured.sort_by(|a, b| a.1.median_ns.total_cmp(&b.1.median_ns).then(a.0.cmp(&b.0)));
    let Some(&(fastest, best)) = measured.first() else {
        return Ok(Decision {
            fastest: None,
            winner: None,
            tied: Vec::new(),
            runner_up: None,
            margin: None,
            detectable_change: None,
        });
    };
    let runner_up = measured.get(1).copied();
    let reaching: Vec<usize> =
        measured.iter().skip(1).filter(|(_, t)| t.low_ns <= best.high_ns).map(|(i, _)| *i).collect();
    let (winner, tied) = if reaching.is_empty() {
        (runner_up.map(|_| fastest), Vec::new())
    } else {
        (None, std::iter::once(fastest).chain(reaching).collect())
    };
    let detectable_change = match runner_up {
        Some((_, second)) => Some(
            power::detectable_change(best.log_se, second.log_se, options.confidence, options.power)
                .map_err(|e| ReportError::Input(e.to_string()))?,
        ),
        None => None,
    };
    Ok(Decision {
        fastest: Some(fastest),
        winner,
        tied,
        runner_up: runner_up.map(|(i, _)| i),
        margin: runner_up.map(|(_, t)| t.median_ns / best.median_ns),
        detectable_change,
    })
}

/// Configurations sharing a key: the values of the parameters that define a group.
type Keyed = Vec<(Vec<(String, String)>, Vec<usize>)>;

/// Groups configurations for the figures (see [`Group`]) and records each one's group.
fn group(configurations: &mut [Configuration]) -> Vec<Group> {
    let without = |params: &Params, drop: &[&str]| -> Vec<(String, String)> {
        params.iter().filter(|(k, _)| !drop.contains(k)).map(|(k, v)| (k.to_owned(), v.to_string())).collect()
    };
    // First by everything but S and B; a group where one S repeats is split by B as well.
    let mut coarse: Keyed = Vec::new();
    for (c, config) in configurations.iter().enumerate() {
        let key = without(&config.params, &[X_PARAM, FOLD_PARAM]);
        match coarse.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(c),
            None => coarse.push((key, vec![c])),
        }
    }
    let mut groups = Vec::new();
    for (key, members) in coarse {
        let xs: Vec<String> = members
            .iter()
            .map(|&c| configurations[c].params.get(X_PARAM).map(Value::to_string).unwrap_or_default())
            .collect();
        let repeats = (1..xs.len()).any(|i| xs[..i].contains(&xs[i]));
        let parts: Keyed = if repeats {
            let mut split: Keyed = Vec::new();
            for &c in &members {
                let key = without(&configurations[c].params, &[X_PARAM]);
                match split.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, m)) => m.push(c),
                    None => split.push((key, vec![c])),
                }
            }
            split
        } else {
            vec![(key, members)]
        };
        for (key, mut members) in parts {
            // Along the x parameter, smallest first (numbers as numbers).
            members.sort_by(|&a, &b| {
                let x = |c: usize| configurations[c].params.get(X_PARAM).and_then(Value::as_f64);
                x(a).partial_cmp(&x(b)).unwrap_or(std::cmp::Ordering::Equal)
            });
            let title = key.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let shown = |c: usize| -> String {
                let params = &configurations[c].params;
                let varying: Vec<String> = params
                    .iter()
                    .filter(|(k, _)| !key.iter().any(|(kk, _)| kk == k))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                if varying.is_empty() { configurations[c].label.clone() } else { varying.join(",") }
            };
            let labels = members.iter().map(|&c| shown(c)).collect();
            let index = groups.len();
            for &c in &members {
                configurations[c].group = index;
            }
            groups.push(Group { slug: slug(&title, index), title, configurations: members, labels });
        }
    }
    groups
}

/// A file name for a group: its parameters with anything but letters, digits, `-` and `_` made `_`,
/// and its number in front so that names stay unique and ordered.
fn slug(title: &str, index: usize) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(80)
        .collect();
    format!("{:02}_{}", index + 1, if cleaned.is_empty() { "all".to_owned() } else { cleaned })
}
