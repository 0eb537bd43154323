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
use super::{
    Arg, Bench, BenchKind, BufferArg, CommandBench, CudaBench, Dtype, DtypeSpec, HistoryLocation, Init,
    Launch, MeasureSettings, Reference, ScalarArg, Suite, Thresholds, TuneParam,
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
const SUITE_KEYS: &[&str] =
    &["name", "baseline", "history", "tolerance", "confidence", "drift", "drift_ns", "measure"];
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
const COMMON_BENCH_KEYS: &[&str] = &["name", "kind", "params", "where", "flops", "bytes"];
const CUDA_KEYS: &[&str] = &[
    "source",
    "kernel",
    "include_dirs",
    "extra_flags",
    "defines",
    "tune",
    "constraints",
    "grid",
    "block",
    "shared_mem",
    "args",
    "reference",
];
const COMMAND_KEYS: &[&str] = &["run", "timeout_s"];
const ARG_KEYS: &[&str] = &["name", "dtype", "count", "value", "init", "output"];
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
    let mut thresholds = Thresholds::default();
    if let Some(f) = table.get("tolerance") {
        thresholds.tolerance =
            f.f64_where(|x| x > 0.0 && x < 1.0, "a fraction between 0 and 1, like 0.02")?;
    }
    if let Some(f) = table.get("confidence") {
        thresholds.confidence = f.f64_where(|x| x > 0.5 && x < 1.0, "between 0.5 and 1, like 0.99")?;
    }
    if let Some(f) = table.get("drift") {
        thresholds.drift =
            f.f64_where(|x| (0.0..1.0).contains(&x), "a fraction from 0 up to 1, like 0.01")?;
    }
    if let Some(f) = table.get("drift_ns") {
        thresholds.drift_ns =
            f.f64_where(|x| x.is_finite() && x >= 0.0, "a number of nanoseconds ≥ 0, like 250")?;
    }
    Ok(thresholds)
}

fn measure(table: &Table<'_>) -> Result<MeasureSettings, SuiteError> {
    table.check_keys(MEASURE_KEYS, |key| {
        SUITE_KEYS.contains(&key).then(|| format!("`{key}` belongs in the [suite] table"))
    })?;
    let mut m = MeasureSettings::default();
    if let Some(f) = table.get("target_rel_ci") {
        m.target_rel_ci = f.f64_where(|x| x > 0.0 && x < 1.0, "a fraction between 0 and 1, like 0.005")?;
    }
    if let Some(f) = table.get("min_samples") {
        m.min_samples = count(&f, 2)?;
    }
    if let Some(f) = table.get("max_samples") {
        m.max_samples = count(&f, 2)?;
    }
    if m.max_samples < m.min_samples {
        let f = table.get("max_samples").or_else(|| table.get("min_samples"));
        let message = format!(
            "max_samples ({}) is below min_samples ({}); raise max_samples or lower min_samples",
            m.max_samples, m.min_samples
        );
        return Err(match f {
            Some(f) => f.key_error(message),
            None => table.error(message),
        });
    }
    if let Some(f) = table.get("max_time_s") {
        m.max_time_s = f.f64_where(|x| x > 0.0, "a positive number of seconds")?;
    }
    if let Some(f) = table.get("warmup_ms") {
        m.warmup_ms = f.f64_where(|x| x >= 0.0, "zero or a positive number of milliseconds")?;
    }
    if let Some(f) = table.get("warm_cache") {
        m.warm_cache = f.bool()?;
    }
    if let Some(f) = table.get("timeout_s") {
        m.timeout_s = f.f64_where(|x| x > 0.0, "a positive number of seconds")?;
    }
    if let Some(f) = table.get("seed") {
        let seed = f.int()?;
        m.seed = u64::try_from(seed).map_err(|_| f.error(format!("is {seed}; seeds are not negative")))?;
    }
    Ok(m)
}

/// An integer of at least `min`.
fn count(field: &Field<'_>, min: usize) -> Result<usize, SuiteError> {
    let n = field.int()?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| field.error(format!("is {n}; it must be an integer of at least {min}")))
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
        Some(field) => params(&field)?,
        None => Vec::new(),
    };
    let filter = table.get("where").map(|f| f.expr()).transpose()?;
    let flops = table.get("flops").map(|f| f.expr()).transpose()?;
    let bytes = table.get("bytes").map(|f| f.expr()).transpose()?;
    let kind = match kind_name {
        "cuda" => BenchKind::Cuda(cuda(&table, &axes, dir)?),
        _ => BenchKind::Command(command(&table, &axes, dir)?),
    };
    let params = axes.into_iter().map(|a| (a.name, a.values.into_iter().map(|(v, _)| v).collect())).collect();
    Ok(Bench { name: name.to_owned(), params, filter, flops, bytes, kind })
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

fn cuda(table: &Table<'_>, axes: &[Axis<'_>], dir: &Path) -> Result<CudaBench, SuiteError> {
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

    let tune = match table.get("tune") {
        Some(f) => tune(&f, axes)?,
        None => Vec::new(),
    };
    let defines = match table.get("defines") {
        Some(f) => defines(&f, &tune)?,
        None => Vec::new(),
    };
    let constraints = match table.get("constraints") {
        Some(f) => f.one_or_many().iter().map(Field::expr).collect::<Result<_, _>>()?,
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
            Some(reference(&f.table(format!("{} reference", table.what()))?, &source, &defines, &tune, dir)?)
        }
        None => {
            return Err(table.error(format!(
                "output `{}` has nothing to be checked against; add a [bench.reference] table naming a \
                 kernel that computes the same outputs, like `kernel = \"{kernel}_ref\"`",
                outputs.join("`, `")
            )));
        }
    };

    Ok(CudaBench {
        source,
        kernel,
        include_dirs,
        extra_flags,
        defines,
        tune,
        constraints,
        launch,
        args,
        reference,
    })
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
            let default_field =
                spec.require("default", "give the value used when not autotuning, like `default = 128`")?;
            let default = default_field.scalar()?;
            let candidates = match spec.get("candidates") {
                Some(list) => {
                    let items = list.array()?;
                    if items.is_empty() {
                        return Err(list.error("is empty; list the values autotuning may try, or remove it"));
                    }
                    let mut values: Vec<Value> = Vec::with_capacity(items.len());
                    for item in &items {
                        let value = item.scalar()?;
                        if values.contains(&value) {
                            return Err(item.error(format!("repeats `{value}`; list each candidate once")));
                        }
                        values.push(value);
                    }
                    if !values.contains(&default) {
                        return Err(default_field.error(format!(
                            "is {default}, which is not among the candidates [{}]; add it to `candidates` or \
                             change the default",
                            values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                        )));
                    }
                    values
                }
                None => vec![default.clone()],
            };
            (default, candidates)
        } else {
            let default = entry.scalar()?;
            (default.clone(), vec![default])
        };
        tune.push(TuneParam { name, default, candidates });
    }
    Ok(tune)
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
            for key in ["init", "output"] {
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
            let init = match table.get("init") {
                Some(f) => {
                    let init = init(&f)?;
                    if output && init != Init::Zeros {
                        return Err(f.error(format!(
                            "is `{}`, but `{name}` is an output: outputs start zeroed, and \
                             `init = \"zeros\"` is the only init they take; remove `init`",
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
            Ok(Arg::Buffer(BufferArg { name, dtype, count: count.expr()?, init, output }))
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

fn command(table: &Table<'_>, axes: &[Axis<'_>], dir: &Path) -> Result<CommandBench, SuiteError> {
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
        if let Some((range, name)) =
            super::placeholders(word).find(|(_, name)| !axes.iter().any(|a| a.name == *name))
        {
            let names: Vec<String> = axes.iter().map(|a| format!("`{{{}}}`", a.name)).collect();
            return Err(item.error(format!(
                "uses `{}`, but the bench has no param `{name}`; {}",
                &word[range],
                if names.is_empty() {
                    "it has no params".to_owned()
                } else {
                    format!("the placeholders there are {}", names.join(", "))
                }
            )));
        }
        run.push(word.to_owned());
    }
    let timeout_s = table
        .get("timeout_s")
        .map(|f| f.f64_where(|x| x > 0.0, "a positive number of seconds"))
        .transpose()?;
    let cwd = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.to_owned() };
    Ok(CommandBench { run, cwd, timeout_s })
}
