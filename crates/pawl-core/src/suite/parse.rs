//! Reading `pawl.toml` into a validated [`Suite`](super::Suite).
//!
//! The text is parsed by `toml` into a tree that keeps the byte span of every key and value; this
//! module walks it table by table (see [`reader`]), so that every mistake is reported at its line and
//! column with what is wrong and what to write instead. Everything that can be checked without
//! evaluating an expression for a case is checked here; the rest is checked when the suite is planned
//! (`crate::plan`).

mod reader;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use self::reader::{Field, Source, Table};
use super::expand;
use super::limits::{self, Limit, OutOfRange};
use super::{
    Arg, Bench, BenchKind, BufferArg, CommandBench, CudaBench, Dtype, DtypeSpec, HistoryLocation, Init,
    Launch, MeasureSettings, Reference, ScalarArg, Suite, Thresholds, TuneDefault, TuneParam,
};
use crate::case::CaseId;
use crate::expr::Expr;
use crate::value::{Params, Value};

/// A suite file that cannot be used, with the file, the line and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// Not TOML at all; the message from `toml` already shows the line, column and a snippet.
    #[error("{}: {source}", path.display())]
    Syntax { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{}:{line}:{column}: {message}", path.display())]
    At { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// An expression that fails for one case of a sweep.
    #[error("case `{case}`: {message}")]
    Case { case: CaseId, message: String },
}

const ROOT_KEYS: &[&str] = &["suite", "bench"];
const SUITE_KEYS: &[&str] = &[
    "name",
    "baseline",
    "history",
    "tolerance",
    "confidence",
    "drift",
    "drift_ns",
    "gpu_price_per_hour",
    "measure",
];
const MEASURE_KEYS: &[&str] = &[
    "target_rel_ci",
    "min_samples",
    "max_samples",
    "max_time_s",
    "warmup_ms",
    "warm_cache",
    "timeout_s",
    "seed",
];
const COMMON_BENCH_KEYS: &[&str] =
    &["name", "kind", "params", "where", "flops", "bytes", "tune", "constraints"];
const CUDA_KEYS: &[&str] = &[
    "source",
    "kernel",
    "include_dirs",
    "extra_flags",
    "defines",
    "grid",
    "block",
    "shared_mem",
    "args",
    "reference",
];
const COMMAND_KEYS: &[&str] = &["run", "timeout_s"];
const ARG_KEYS: &[&str] = &["name", "dtype", "count", "value", "init", "output", "reset"];
const REFERENCE_KEYS: &[&str] =
    &["source", "kernel", "defines", "grid", "block", "shared_mem", "rtol", "atol"];
const TUNE_KEYS: &[&str] = &["default", "candidates"];
const INIT_KINDS: &[&str] = &["randn", "uniform", "index", "zeros"];

pub(super) fn load(path: &Path) -> Result<Suite, SuiteError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| SuiteError::Read { path: path.to_owned(), source })?;
    parse(&text, path)
}

pub(super) fn parse(text: &str, path: &Path) -> Result<Suite, SuiteError> {
    let doc = DeTable::parse(text)
        .map_err(|source| SuiteError::Syntax { path: path.to_owned(), source: Box::new(source) })?;
    let src = Source::new(path, text);
    let root = Table::root(&src, &doc);
    root.check_keys(ROOT_KEYS, misplaced_at_root)?;

    let dir = folder(path);
    let suite_table = root
        .require("suite", "start the file with a [suite] table that has at least `name = \"...\"`")?
        .table("[suite]")?;
    suite_table.check_keys(SUITE_KEYS, |key| {
        MEASURE_KEYS.contains(&key).then(|| format!("`{key}` belongs in the [suite.measure] table"))
    })?;
    let name = suite_table.require("name", "name the suite, like `name = \"attention\"`")?.non_empty_str()?;
    let baseline = suite_table.get("baseline").map(|f| f.non_empty_str().map(|p| dir.join(p))).transpose()?;
    let history = suite_table
        .get("history")
        .map(|f| f.non_empty_str().map(|text| HistoryLocation::parse(text, &dir)))
        .transpose()?;
    let thresholds = thresholds(&suite_table)?;
    let gpu_price_per_hour =
        suite_table.get("gpu_price_per_hour").map(|f| f.f64_in(&limits::GPU_PRICE_PER_HOUR)).transpose()?;
    let measure = match suite_table.get("measure") {
        Some(field) => measure(&field.table("[suite.measure]")?)?,
        None => MeasureSettings::default(),
    };

    let bench_field = root.require("bench", "add a [[bench]] table for each kernel or command to measure")?;
    if bench_field.is_table() {
        return Err(bench_field.key_error(
            "`bench` must be an array of tables: write [[bench]] (double brackets), once per bench",
        ));
    }
    let mut benches: Vec<Bench> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, field) in bench_field.array()?.into_iter().enumerate() {
        let table = field.table(format!("[[bench]] #{}", index + 1))?;
        let name_field = table.require("name", "name the bench, like `name = \"flash_fwd\"`")?;
        let bench = bench(table, &dir)?;
        let (line, _) = src.line_column(name_field.span().start);
        if let Some(first_line) = seen.insert(bench.name.clone(), line) {
            return Err(name_field.at(
                &name_field.span(),
                format!(
                    "the bench name `{}` is already used by the bench at line {first_line}; bench names must \
                     be unique",
                    bench.name
                ),
            ));
        }
        benches.push(bench);
    }
    if benches.is_empty() {
        return Err(
            bench_field.key_error("`bench` is empty; add a [[bench]] table for each thing to measure")
        );
    }

    Ok(Suite {
        path: path.to_owned(),
        name: name.to_owned(),
        baseline,
        history,
        thresholds,
        measure,
        gpu_price_per_hour,
        benches,
    })
}

/// The folder relative paths are resolved against (empty for a bare file name: the current folder).
fn folder(path: &Path) -> PathBuf {
    path.parent().map(Path::to_owned).unwrap_or_default()
}

fn misplaced_at_root(key: &str) -> Option<String> {
    if SUITE_KEYS.contains(&key) {
        Some(format!("`{key}` belongs in the [suite] table"))
    } else if MEASURE_KEYS.contains(&key) {
        Some(format!("`{key}` belongs in the [suite.measure] table"))
    } else if COMMON_BENCH_KEYS.contains(&key) || CUDA_KEYS.contains(&key) || COMMAND_KEYS.contains(&key) {
        Some(format!(
            "`{key}` belongs to a bench: put it under a [[bench]] header (as [bench.{key}] for a table)"
        ))
    } else {
        None
    }
}

fn thresholds(table: &Table<'_>) -> Result<Thresholds, SuiteError> {
    let mut t = Thresholds::default();
    for (key, value) in [
        ("tolerance", &mut t.tolerance),
        ("confidence", &mut t.confidence),
        ("drift", &mut t.drift),
        ("drift_ns", &mut t.drift_ns),
    ] {
        if let Some(f) = table.get(key) {
            *value = f.f64()?;
        }
    }
    t.validate().map_err(|e| out_of_range(table, e))?;
    Ok(t)
}

fn measure(table: &Table<'_>) -> Result<MeasureSettings, SuiteError> {
    table.check_keys(MEASURE_KEYS, |key| {
        SUITE_KEYS.contains(&key).then(|| format!("`{key}` belongs in the [suite] table"))
    })?;
    let mut m = MeasureSettings::default();
    for (key, value) in [
        ("target_rel_ci", &mut m.target_rel_ci),
        ("max_time_s", &mut m.max_time_s),
        ("warmup_ms", &mut m.warmup_ms),
        ("timeout_s", &mut m.timeout_s),
    ] {
        if let Some(f) = table.get(key) {
            *value = f.f64()?;
        }
    }
    if let Some(f) = table.get("min_samples") {
        m.min_samples = count(&f, &limits::MIN_SAMPLES)?;
    }
    if let Some(f) = table.get("max_samples") {
        m.max_samples = count(&f, &limits::MAX_SAMPLES)?;
    }
    if let Some(f) = table.get("warm_cache") {
        m.warm_cache = f.bool()?;
    }
    if let Some(f) = table.get("seed") {
        let seed = f.int()?;
        m.seed = u64::try_from(seed).map_err(|_| f.error(format!("is {seed}; seeds are not negative")))?;
    }
    m.validate().map_err(|e| out_of_range(table, e))?;
    Ok(m)
}

/// An integer within `limit`.
fn count(field: &Field<'_>, limit: &Limit) -> Result<usize, SuiteError> {
    let n = field.int()?;
    limit.check(n as f64).map_err(|e| field.out_of_range(e))?;
    usize::try_from(n).map_err(|_| field.error(format!("is {n}; it must be {}", limit.allowed)))
}

/// `error` pointing at the key of `table` it names, or at the table when the key is not written there
/// (the value is a default, out of range beside another key's value).
fn out_of_range(table: &Table<'_>, error: OutOfRange) -> SuiteError {
    match table.get(&error.name) {
        Some(field) => field.out_of_range(error),
        None => table.error(OutOfRange { value: format!("{} (the default)", error.value), ..error }),
    }
}

/// One sweep axis as written, with the spans of its values for messages.
struct Axis<'a> {
    name: String,
    values: Vec<(Value, Field<'a>)>,
}

fn bench(table: Table<'_>, dir: &Path) -> Result<Bench, SuiteError> {
    let name_field = table.require("name", "name the bench, like `name = \"flash_fwd\"`")?;
    let name = name_field.non_empty_str()?;
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        let bad = if bad.is_whitespace() { "a space".to_owned() } else { format!("`{bad}`") };
        return Err(name_field.error(format!(
            "is \"{name}\", which contains {bad}; bench names use letters, digits, `_`, `-` and `.` (they \
             start case ids)"
        )));
    }
    let table = table.named(format!("bench `{name}`"));

    let kind_field = table.require("kind", "write `kind = \"cuda\"` or `kind = \"command\"`")?;
    let kind_name = kind_field.str()?;
    let (own, other, other_kind) = match kind_name {
        "cuda" => (CUDA_KEYS, COMMAND_KEYS, "command"),
        "command" => (COMMAND_KEYS, CUDA_KEYS, "cuda"),
        _ => {
            return Err(kind_field.error(format!(
                "is `{}`; it must be \"cuda\" (a kernel compiled by pawl) or \"command\" (a process speaking \
                 the harness protocol)",
                kind_field.quoted()
            )));
        }
    };
    let allowed: Vec<&str> = COMMON_BENCH_KEYS.iter().chain(own).copied().collect();
    table.check_keys(&allowed, |key| {
        other.contains(&key).then(|| {
            format!(
                "`{key}` is only for kind = \"{other_kind}\" benches; this bench is kind = \"{kind_name}\""
            )
        })
    })?;

    let axes = match table.get("params") {
        Some(field) => {
            let axes = params(&field)?;
            let sizes: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
            if let Some(message) = expand::too_many_cases(&sizes) {
                return Err(field.key_error(message));
            }
            axes
        }
        None => Vec::new(),
    };
    let filter = table.get("where").map(|f| f.expr()).transpose()?;
    let flops = table.get("flops").map(|f| f.expr()).transpose()?;
    let bytes = table.get("bytes").map(|f| f.expr()).transpose()?;
    let tune = match table.get("tune") {
        Some(f) => tune(&f, &axes)?,
        None => Vec::new(),
    };
    let constraints = match table.get("constraints") {
        Some(f) => f.one_or_many().iter().map(Field::expr).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let kind = match kind_name {
        "cuda" => BenchKind::Cuda(cuda(&table, &axes, &tune, dir)?),
        _ => BenchKind::Command(command(&table, &axes, &tune, dir)?),
    };
    let params = axes.into_iter().map(|a| (a.name, a.values.into_iter().map(|(v, _)| v).collect())).collect();
    Ok(Bench { name: name.to_owned(), params, filter, flops, bytes, tune, constraints, kind })
}

fn params<'a>(field: &Field<'a>) -> Result<Vec<Axis<'a>>, SuiteError> {
    let table = field.table(format!("{} params", field.owner()))?;
    let mut axes = Vec::new();
    for axis in table.fields() {
        let name = axis.key().to_owned();
        if !is_variable_name(&name) {
            return Err(axis.key_error(format!(
                "param name `{name}` cannot be used in expressions; use letters, digits and `_`, not \
                 starting with a digit, and not a keyword such as `true` or `if`"
            )));
        }
        if axis.is_table() || axis.scalar().is_ok() {
            return Err(axis.error(format!(
                "must be an array of values to sweep, like `{name} = [{}]`",
                if axis.is_table() { "512, 1024".to_owned() } else { axis.quoted() }
            )));
        }
        let items = axis.array()?;
        if items.is_empty() {
            return Err(axis.error(format!(
                "is an empty list; give the param at least one value, like `{name} = [512]`, or remove it"
            )));
        }
        let mut values: Vec<(Value, Field<'a>)> = Vec::with_capacity(items.len());
        // Each value as case ids print it, with its position, to find two that print the same.
        let mut printed: HashMap<String, usize> = HashMap::with_capacity(items.len());
        for item in items {
            let value = item.scalar()?;
            if let Value::Str(s) = &value
                && let Some(bad) = s.chars().find(|c| matches!(c, ',' | '=') || c.is_whitespace())
            {
                return Err(item.error(format!(
                    "is \"{s}\", which contains `{}`; param strings must not hold `,`, `=` or spaces, which \
                     would make case ids ambiguous",
                    bad.escape_default()
                )));
            }
            let shown = value.to_string();
            if let Some(&first) = printed.get(&shown) {
                return Err(item.error(format!(
                    "gives `{name}={shown}` in case ids, as `{}` does already; remove one of them",
                    values[first].1.key()
                )));
            }
            printed.insert(shown, values.len());
            values.push((value, item));
        }
        axes.push(Axis { name, values });
    }
    Ok(axes)
}

/// True when `name` can be a variable in an expression: an ASCII identifier that the evaluator reads
/// as a variable (not `true`, `if`, `fn` or another keyword).
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    let mut vars = Params::new();
    vars.insert(name, Value::Int(7));
    Expr::parse(name).and_then(|e| e.eval(&vars)).is_ok_and(|v| v == Value::Int(7))
}

/// A C identifier, for macro and kernel names.
fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn cuda(
    table: &Table<'_>,
    axes: &[Axis<'_>],
    tune: &[TuneParam],
    dir: &Path,
) -> Result<CudaBench, SuiteError> {
    let source = existing_file(
        &table.require("source", "name the kernel's .cu file, like `source = \"kernels/add.cu\"`")?,
        dir,
    )?;
    let kernel =
        kernel_name(&table.require("kernel", "name the kernel's entry point, like `kernel = \"add\"`")?)?;
    let include_dirs = match table.get("include_dirs") {
        Some(f) => f.array()?.iter().map(|d| existing_dir(d, dir)).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let extra_flags = match table.get("extra_flags") {
        Some(f) => {
            f.array()?.iter().map(|flag| flag.non_empty_str().map(str::to_owned)).collect::<Result<_, _>>()?
        }
        None => Vec::new(),
    };

    let defines = match table.get("defines") {
        Some(f) => defines(&f, tune)?,
        None => Vec::new(),
    };
    let launch = launch(table)?;

    let args_field = table.require(
        "args",
        "list the kernel's arguments as [[bench.args]] tables, in the order the kernel takes them",
    )?;
    let mut args: Vec<Arg> = Vec::new();
    for (index, arg_field) in args_field.array()?.iter().enumerate() {
        let arg = arg(arg_field, index, table.what(), axes)?;
        if args.iter().any(|a| a.name() == arg.name()) {
            return Err(arg_field
                .error(format!("names `{}` a second time; argument names must be unique", arg.name())));
        }
        args.push(arg);
    }
    let outputs: Vec<&str> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Buffer(b) if b.output => Some(b.name.as_str()),
            _ => None,
        })
        .collect();
    if outputs.is_empty() {
        return Err(args_field.key_error(
            "no argument has `output = true`, so nothing the kernel computes could be checked; mark the \
             buffers the kernel writes with `output = true`",
        ));
    }
    let reference = match table.get("reference") {
        Some(f) => {
            Some(reference(&f.table(format!("{} reference", table.what()))?, &source, &defines, tune, dir)?)
        }
        None => {
            return Err(table.error(format!(
                "output `{}` has nothing to be checked against; add a [bench.reference] table naming a \
                 kernel that computes the same outputs, like `kernel = \"{kernel}_ref\"`",
                outputs.join("`, `")
            )));
        }
    };

    Ok(CudaBench { source, kernel, include_dirs, extra_flags, defines, launch, args, reference })
}

fn kernel_name(field: &Field<'_>) -> Result<String, SuiteError> {
    let name = field.non_empty_str()?;
    if !is_c_identifier(name) {
        return Err(field.error(format!(
            "is `{name}`, which is not a C identifier; name the `extern \"C\" __global__` function"
        )));
    }
    Ok(name.to_owned())
}

fn existing_file(field: &Field<'_>, dir: &Path) -> Result<PathBuf, SuiteError> {
    let path = dir.join(field.non_empty_str()?);
    if !path.is_file() {
        return Err(field.error(format!(
            "names `{}`, which is not a file{}; paths are relative to the folder of the suite file",
            path.display(),
            if path.exists() { "" } else { " (it does not exist)" }
        )));
    }
    Ok(path)
}

fn existing_dir(field: &Field<'_>, dir: &Path) -> Result<PathBuf, SuiteError> {
    let path = dir.join(field.non_empty_str()?);
    if !path.is_dir() {
        return Err(field.error(format!(
            "names `{}`, which is not a folder; paths are relative to the folder of the suite file",
            path.display()
        )));
    }
    Ok(path)
}

fn tune(field: &Field<'_>, axes: &[Axis<'_>]) -> Result<Vec<TuneParam>, SuiteError> {
    let table = field.table(format!("{} tune", field.owner()))?;
    let mut tune = Vec::new();
    for entry in table.fields() {
        let name = entry.key().to_owned();
        if !is_variable_name(&name) {
            return Err(entry.key_error(format!(
                "tune parameter `{name}` must be a C identifier that can also be used in expressions \
                 (letters, digits and `_`, not a keyword)"
            )));
        }
        if axes.iter().any(|a| a.name == name) {
            return Err(
                entry.key_error(format!("`{name}` is both a param and a tune parameter; rename one of them"))
            );
        }
        let (default, candidates) = if entry.is_table() {
            let spec = entry.table(format!("{} tune parameter `{name}`", field.owner()))?;
            spec.check_keys(TUNE_KEYS, |_| None)?;
            let default_field = spec.require(
                "default",
                "give the value used when not autotuning, like `default = 128`, or an expression over the \
                 params, like `default = \"if D == 128 { 64 } else { 128 }\"`",
            )?;
            let default = default_field.scalar()?;
            match spec.get("candidates") {
                Some(list) => {
                    let values = candidates(&list)?;
                    let default = match default {
                        literal if values.contains(&literal) => TuneDefault::Value(literal),
                        Value::Str(_) => TuneDefault::Expr(default_field.expr().map_err(|_| {
                            default_field.error(format!(
                                "is neither one of the candidates [{}] nor a valid expression over the \
                                 params; write a candidate, or an expression like \
                                 \"if D == 128 {{ 64 }} else {{ 128 }}\"",
                                shown_list(&values)
                            ))
                        })?),
                        other => {
                            return Err(default_field.error(format!(
                                "is {other}, which is not among the candidates [{}]; add it to `candidates` \
                                 or change the default",
                                shown_list(&values)
                            )));
                        }
                    };
                    (default, values)
                }
                None => {
                    if let Value::Str(text) = &default
                        && !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                    {
                        return Err(default_field.error(format!(
                            "is \"{}\", which reads as an expression; an expression default needs \
                             `candidates`, the values it may give, like `candidates = [64, 128]`",
                            crate::harness::shown(text)
                        )));
                    }
                    (TuneDefault::Value(default.clone()), vec![default])
                }
            }
        } else {
            let default = entry.scalar()?;
            (TuneDefault::Value(default.clone()), vec![default])
        };
        tune.push(TuneParam { name, default, candidates });
    }
    Ok(tune)
}

/// A tune parameter's candidates: scalars, each printing differently (configuration ids print them),
/// strings without `,`, `=` or spaces.
fn candidates(list: &Field<'_>) -> Result<Vec<Value>, SuiteError> {
    let items = list.array()?;
    if items.is_empty() {
        return Err(list.error("is empty; list the values autotuning may try, or remove it"));
    }
    let mut values: Vec<Value> = Vec::with_capacity(items.len());
    for item in &items {
        let value = item.scalar()?;
        if let Value::Str(s) = &value
            && let Some(bad) = s.chars().find(|c| matches!(c, ',' | '=') || c.is_whitespace())
        {
            return Err(item.error(format!(
                "is \"{s}\", which contains `{}`; tune values must not hold `,`, `=` or spaces, which would \
                 make configuration ids ambiguous",
                bad.escape_default()
            )));
        }
        if let Some(same) = values.iter().find(|v| v.to_string() == value.to_string()) {
            return Err(item.error(format!("repeats `{same}`; list each candidate once")));
        }
        values.push(value);
    }
    Ok(values)
}

fn shown_list(values: &[Value]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn defines(field: &Field<'_>, tune: &[TuneParam]) -> Result<Vec<(String, Expr)>, SuiteError> {
    let table = field.table(format!("{} {}", field.owner(), field.key()))?;
    let mut defines = Vec::new();
    for entry in table.fields() {
        let name = entry.key().to_owned();
        if !is_c_identifier(&name) {
            return Err(entry
                .key_error(format!("define `{name}` is not a C identifier; use letters, digits and `_`")));
        }
        if tune.iter().any(|t| t.name == name) {
            return Err(entry.key_error(format!(
                "`{name}` is a tune parameter, which is passed as -D{name} already; remove the define or \
                 rename it"
            )));
        }
        defines.push((name, entry.expr()?));
    }
    Ok(defines)
}

fn launch(table: &Table<'_>) -> Result<Launch, SuiteError> {
    let grid =
        dims(&table.require("grid", "give the grid size, like `grid = [\"ceil_div(N, 256)\"]` (x, y, z)")?)?;
    let block = dims(&table.require("block", "give the block size, like `block = [256]` (x, y, z)")?)?;
    let shared_mem = table.get("shared_mem").map(|f| f.expr()).transpose()?;
    Ok(Launch { grid, block, shared_mem })
}

/// One to three dimensions, each an integer or an expression; a lone value is the x dimension.
fn dims(field: &Field<'_>) -> Result<Vec<Expr>, SuiteError> {
    let items = field.one_or_many();
    if items.is_empty() || items.len() > 3 {
        return Err(field.error(format!(
            "has {} entries; give 1 to 3 (x, then y, then z; missing ones are 1)",
            items.len()
        )));
    }
    items.iter().map(Field::expr).collect()
}

fn arg(field: &Field<'_>, index: usize, bench: &str, axes: &[Axis<'_>]) -> Result<Arg, SuiteError> {
    let table = field.table(format!("{bench} args[{index}]"))?;
    let name_field = table.require("name", "name the argument, like `name = \"q\"`")?;
    let name = name_field.non_empty_str()?.to_owned();
    if !is_c_identifier(&name) {
        return Err(name_field.error(format!("is `{name}`; argument names use letters, digits and `_`")));
    }
    let table = table.named(format!("{bench} arg `{name}`"));
    table.check_keys(ARG_KEYS, |key| {
        REFERENCE_KEYS
            .contains(&key)
            .then(|| format!("`{key}` belongs in [bench.reference], not in an argument"))
    })?;
    let dtype = dtype_spec(
        &table.require("dtype", "give the element type, like `dtype = \"f32\"` or `\"{dtype}\"`")?,
        &name,
        axes,
    )?;
    match (table.get("count"), table.get("value")) {
        (Some(_), Some(value)) => Err(value.key_error(
            "has both `count` (a device buffer) and `value` (a scalar); keep `count` for a buffer or `value` \
             for a scalar",
        )),
        (None, None) => Err(table.error(
            "has neither `count` nor `value`; give `count` (the number of elements) for a device buffer or \
             `value` for a scalar",
        )),
        (None, Some(value)) => {
            for key in ["init", "output", "reset"] {
                if let Some(f) = table.get(key) {
                    return Err(f.key_error(format!(
                        "`{key}` is only for buffers (arguments with `count`); `{name}` is a scalar"
                    )));
                }
            }
            Ok(Arg::Scalar(ScalarArg { name, dtype, value: value.expr()? }))
        }
        (Some(count), None) => {
            let output = table.get("output").map(|f| f.bool()).transpose()?.unwrap_or(false);
            let reset = table.get("reset").map(|f| f.bool()).transpose()?.unwrap_or(false);
            let init = match table.get("init") {
                Some(f) => {
                    let init = init(&f)?;
                    if output && init != Init::Zeros && !reset {
                        return Err(f.error(format!(
                            "is `{}`, but `{name}` is an output: outputs start as poison so that unwritten \
                             elements show; a buffer the kernel updates in place must start from the same \
                             values at every launch: add `reset = true`, or remove `init`",
                            f.quoted()
                        )));
                    }
                    if !output && init == Init::Zeros {
                        return Err(f.error(format!(
                            "makes input `{name}` all zeros; inputs of zeros hide outputs the kernel \
                             never writes (the reference gives zeros there too) and time unrealistically \
                             (zeros draw less power and trigger shortcuts); use \"randn\", \"uniform\" or \
                             \"index\""
                        )));
                    }
                    init
                }
                None if output => Init::Zeros,
                None => Init::Randn { mean: 0.0, std: 1.0 },
            };
            Ok(Arg::Buffer(BufferArg { name, dtype, count: count.expr()?, init, output, reset }))
        }
    }
}

/// The dtype of argument `arg`, written as a name or as `{param}`.
fn dtype_spec(field: &Field<'_>, arg: &str, axes: &[Axis<'_>]) -> Result<DtypeSpec, SuiteError> {
    let text = field.str()?;
    let Some(param) = text.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) else {
        return text.parse::<Dtype>().map(DtypeSpec::Fixed).map_err(|message| {
            field.error(format!(
                "is not a dtype: {message}; or name a string param in braces, like \"{{dtype}}\""
            ))
        });
    };
    let Some(axis) = axes.iter().find(|a| a.name == param) else {
        let names: Vec<String> = axes.iter().map(|a| format!("`{}`", a.name)).collect();
        return Err(field.error(format!(
            "names the param `{param}`, which this bench does not have; {}",
            if names.is_empty() {
                "it has no params".to_owned()
            } else {
                format!("its params are {}", names.join(", "))
            }
        )));
    };
    for (value, value_field) in &axis.values {
        let parsed = value.as_str().map(str::parse::<Dtype>);
        if !matches!(parsed, Some(Ok(_))) {
            let names: Vec<&str> = Dtype::ALL.iter().map(|d| d.name()).collect();
            return Err(value_field.error(format!(
                "is `{}`, but param `{param}` gives the dtype of argument `{arg}`; its values must be dtype \
                 names: {}",
                value_field.quoted(),
                names.join(", ")
            )));
        }
    }
    Ok(DtypeSpec::FromParam(param.to_owned()))
}

fn init(field: &Field<'_>) -> Result<Init, SuiteError> {
    let kinds = INIT_KINDS.join(", ");
    if field.is_table() {
        let table = field.table(format!("{} {}", field.owner(), field.key()))?;
        let kind_field = table.require("kind", &format!("name the distribution: one of {kinds}"))?;
        let kind = kind_field.str()?;
        let number = |key: &str, default: f64| table.get(key).map_or(Ok(default), |f| f.f64());
        match kind {
            "randn" => {
                table.check_keys(&["kind", "mean", "std"], |_| None)?;
                let std = number("std", 1.0)?;
                if std <= 0.0 {
                    return Err(table.get("std").map_or_else(
                        || table.error("`std` must be positive"),
                        |f| f.error(format!("is {std}; a standard deviation must be positive")),
                    ));
                }
                Ok(Init::Randn { mean: number("mean", 0.0)?, std })
            }
            "uniform" => {
                table.check_keys(&["kind", "low", "high"], |_| None)?;
                let (low, high) = (number("low", -1.0)?, number("high", 1.0)?);
                if low >= high {
                    return Err(table.error(format!("`low` ({low}) must be below `high` ({high})")));
                }
                Ok(Init::Uniform { low, high })
            }
            "index" | "zeros" => {
                table.check_keys(&["kind"], |key| Some(format!("`{kind}` takes no `{key}`")))?;
                Ok(if kind == "index" { Init::Index } else { Init::Zeros })
            }
            _ => Err(kind_field.error(format!("is `{}`; it must be one of {kinds}", kind_field.quoted()))),
        }
    } else {
        match field.str()? {
            "randn" => Ok(Init::Randn { mean: 0.0, std: 1.0 }),
            "uniform" => Ok(Init::Uniform { low: -1.0, high: 1.0 }),
            "index" => Ok(Init::Index),
            "zeros" => Ok(Init::Zeros),
            _ => Err(field.error(format!(
                "is `{}`; it must be one of {kinds}, or a table like \
                 {{ kind = \"uniform\", low = 0, high = 1 }}",
                field.quoted()
            ))),
        }
    }
}

fn reference(
    table: &Table<'_>,
    bench_source: &Path,
    bench_defines: &[(String, Expr)],
    tune: &[TuneParam],
    dir: &Path,
) -> Result<Reference, SuiteError> {
    table.check_keys(REFERENCE_KEYS, |key| {
        CUDA_KEYS
            .contains(&key)
            .then(|| format!("`{key}` is a key of the bench itself, not of its reference"))
    })?;
    let source = match table.get("source") {
        Some(f) => existing_file(&f, dir)?,
        None => bench_source.to_owned(),
    };
    let kernel = kernel_name(
        &table.require("kernel", "name the reference kernel, like `kernel = \"attention_ref\"`")?,
    )?;
    let defines = match table.get("defines") {
        Some(f) => defines(&f, tune)?,
        None => bench_defines.to_vec(),
    };
    let launch = launch(table)?;
    let tolerance = |key: &str, default: &str| match table.get(key) {
        Some(f) => f.expr(),
        None => Expr::parse(default).map_err(|e| table.error(e)),
    };
    Ok(Reference {
        source,
        kernel,
        defines,
        launch,
        rtol: tolerance("rtol", "1e-3")?,
        atol: tolerance("atol", "1e-5")?,
    })
}

fn command(
    table: &Table<'_>,
    axes: &[Axis<'_>],
    tune: &[TuneParam],
    dir: &Path,
) -> Result<CommandBench, SuiteError> {
    let run_field = table.require(
        "run",
        "give the command to start, as an argv list, like \
         `run = [\"python3\", \"bench.py\", \"--size\", \"{S}\"]`",
    )?;
    let items = run_field.array()?;
    if items.is_empty() {
        return Err(run_field
            .error("is empty; give the program and its arguments, like `[\"python3\", \"bench.py\"]`"));
    }
    let mut run = Vec::with_capacity(items.len());
    for item in &items {
        let word = item.str()?;
        let known = |name: &str| axes.iter().any(|a| a.name == name) || tune.iter().any(|t| t.name == name);
        if let Some((range, name)) = super::placeholders(word).find(|(_, name)| !known(name)) {
            let names: Vec<String> = axes
                .iter()
                .map(|a| a.name.as_str())
                .chain(tune.iter().map(|t| t.name.as_str()))
                .map(|name| format!("`{{{name}}}`"))
                .collect();
            return Err(item.error(format!(
                "uses `{}`, but the bench has no param or tune parameter `{name}`; {}",
                &word[range],
                if names.is_empty() {
                    "it has neither".to_owned()
                } else {
                    format!("the placeholders there are {}", names.join(", "))
                }
            )));
        }
        run.push(word.to_owned());
    }
    let timeout_s = table.get("timeout_s").map(|f| f.f64_in(&limits::COMMAND_TIMEOUT_S)).transpose()?;
    let cwd = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.to_owned() };
    Ok(CommandBench { run, cwd, timeout_s })
}

/// Where a tune parameter's default is written in the suite text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DefaultSpan {
    pub bench: String,
    pub param: String,
    /// Byte range of the default's value.
    pub span: std::ops::Range<usize>,
    /// Written as a lone value (`NAME = 4`: nothing to tune) rather than in a table with `default`.
    pub lone: bool,
}

/// The default of every tune parameter of every bench, as written in `text` (a suite that loads).
pub(super) fn tune_default_spans(text: &str, path: &Path) -> Result<Vec<DefaultSpan>, SuiteError> {
    let doc = DeTable::parse(text)
        .map_err(|source| SuiteError::Syntax { path: path.to_owned(), source: Box::new(source) })?;
    let src = Source::new(path, text);
    let root = Table::root(&src, &doc);
    let mut spans = Vec::new();
    let Some(benches) = root.get("bench") else { return Ok(spans) };
    for (index, field) in benches.array()?.into_iter().enumerate() {
        let table = field.table(format!("[[bench]] #{}", index + 1))?;
        let Some(name) = table.get("name") else { continue };
        let bench = name.str()?.to_owned();
        let Some(tune) = table.get("tune") else { continue };
        for entry in tune.table(format!("bench `{bench}` tune"))?.fields() {
            let param = entry.key().to_owned();
            if entry.is_table() {
                if let Some(default) =
                    entry.table(format!("bench `{bench}` tune parameter `{param}`"))?.get("default")
                {
                    spans.push(DefaultSpan {
                        bench: bench.clone(),
                        param,
                        span: default.span(),
                        lone: false,
                    });
                }
            } else {
                spans.push(DefaultSpan { bench: bench.clone(), param, span: entry.span(), lone: true });
            }
        }
    }
    Ok(spans)
}
