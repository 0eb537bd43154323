//! Harness answers are validated like run files: whatever a harness answers, the case pawl's engine
//! makes of it, written into a run file, reads back — and nothing on the way panics.
//!
//! Random answer lines (JSON objects with the answer fields holding random values, NaN, infinities,
//! negative and huge numbers among them, and plain garbage) go through `harness::parse_answer` and the
//! `Answer::into_*` conversions, driven by `engine::measure_case` through a backend that replays them
//! the way the `command` backend does; the case's result, with its summary statistics as `pawl run`
//! computes them, is saved with `Run::save` and must load with `Run::load`.

use std::cell::Cell;
use std::time::Duration;

use pawl_core::case::Case;
use pawl_core::engine::{self, Backend, Batch, Check, Clock, Failure, Handle};
use pawl_core::harness::{self, Answer};
use pawl_core::plan::PlannedCase;
use pawl_core::run::{CaseResult, CaseStatus, Environment, Run, RunWarning};
use pawl_core::stats;
use pawl_core::suite::{Bench, BenchKind, CommandBench, MeasureSettings};
use pawl_core::value::{Params, Value};
use proptest::prelude::*;

/// A JSON value written as text, so that numbers can be what a harness might print: `NaN`,
/// `Infinity`, `1e400`, `-0`, as well as ordinary numbers.
#[derive(Clone, Debug)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text, exactly as written on the line.
    Number(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn render(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(text) => out.push_str(text),
            Json::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).unwrap());
                    out.push(':');
                    value.render(out);
                }
                out.push('}');
            }
        }
    }
}

/// Number texts JSON holds: ordinary values, huge and tiny ones, zeros, negatives, integers.
fn finite() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1.0..1e7_f64).prop_map(|x| x.to_string()),
        1 => (any::<bool>(), 1e150..f64::MAX).prop_map(|(neg, x)| format!("{:e}", if neg { -x } else { x })),
        1 => any::<f64>().prop_map(|x| if x.is_finite() { format!("{x:e}") } else { "0".to_owned() }),
        1 => any::<i64>().prop_map(|x| x.to_string()),
        1 => any::<u64>().prop_map(|x| x.to_string()),
        1 => prop::sample::select(vec![
            "0", "-0", "-0.0", "-1", "5e-324", "1e-400", "1e308", "1.7976931348623157e308",
            "-1.7976931348623157e308", "1e154", "9.007199254740993e15", "18446744073709551616",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Number texts a harness might print: mostly what JSON holds, sometimes what it cannot (`NaN`,
/// Python's `Infinity`, `1e400`, malformed numbers).
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => finite(),
        1 => prop::sample::select(vec![
            "NaN", "-NaN", "Infinity", "-Infinity", "inf", "1e400", "-1e400", "1.0e", "01", ".5", "+1",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Any JSON-ish value, a few levels deep.
fn value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number().prop_map(Json::Number),
        ".{0,12}".prop_map(Json::Str),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..4).prop_map(Json::Object),
        ]
    })
}

/// An element list: numbers JSON holds, `null` for a NaN, now and then one JSON cannot hold.
fn numbers(len: std::ops::Range<usize>) -> impl Strategy<Value = Json> {
    let element = prop_oneof![
        30 => finite().prop_map(Json::Number),
        3 => Just(Json::Null),
        1 => number().prop_map(Json::Number),
    ];
    prop::collection::vec(element, len).prop_map(Json::Array)
}

/// One output of a `check` answer, mostly well-formed, now and then with an unknown dtype or field.
fn output() -> impl Strategy<Value = Json> {
    let dtype = prop_oneof![
        20 => prop::sample::select(vec!["f32", "f16", "bf16", "f64", "i32", "i64", "u32", "u8"]),
        1 => Just("f128"),
    ];
    (".{0,6}", dtype, numbers(0..6), numbers(0..6), prop::option::weighted(0.05, value())).prop_map(
        |(name, dtype, out, reference, extra)| {
            let mut fields = vec![
                ("name".to_owned(), Json::Str(name)),
                ("dtype".to_owned(), Json::Str(dtype.to_owned())),
                ("out".to_owned(), out),
                ("reference".to_owned(), reference),
            ];
            fields.extend(extra.map(|v| ("extra".to_owned(), v)));
            Json::Object(fields)
        },
    )
}

/// A harness's own comparison, with every figure random.
fn correctness() -> impl Strategy<Value = Json> {
    let names = ["max_abs_error", "max_rel_error", "norm_rel_error", "mismatches", "non_finite"]
        .into_iter()
        .chain(["unwritten", "elements", "rtol", "atol"]);
    let picks: Vec<_> =
        names.map(|name| prop::option::weighted(0.95, number()).prop_map(move |n| (name, n))).collect();
    picks.prop_map(|picks| {
        Json::Object(
            picks.into_iter().filter_map(|(name, n)| n.map(|n| (name.to_owned(), Json::Number(n)))).collect(),
        )
    })
}

/// Answer fields other than `seq`, any of them, with any values: what a confused harness sends.
fn fields() -> impl Strategy<Value = Vec<(String, Json)>> {
    let field = prop_oneof![
        3 => Just(("ok".to_owned(), Json::Bool(true))),
        1 => value().prop_map(|v| ("ok".to_owned(), v)),
        2 => ".{0,20}".prop_map(|e| ("error".to_owned(), Json::Str(e))),
        2 => Just(("unchecked".to_owned(), Json::Bool(true))),
        2 => correctness().prop_map(|c| ("correctness".to_owned(), c)),
        3 => prop::collection::vec(output(), 0..3).prop_map(|o| ("outputs".to_owned(), Json::Array(o))),
        2 => number().prop_map(|n| ("rtol".to_owned(), Json::Number(n))),
        2 => number().prop_map(|n| ("atol".to_owned(), Json::Number(n))),
        2 => numbers(0..20).prop_map(|s| ("samples_ns".to_owned(), s)),
        1 => number().prop_map(|n| ("sm_clock_mhz".to_owned(), Json::Number(n))),
        1 => prop::collection::vec(".{0,8}".prop_map(Json::Str), 0..3)
            .prop_map(|r| ("throttle_reasons".to_owned(), Json::Array(r))),
        1 => ("[a-z_]{1,8}", value()),
    ];
    prop::collection::vec(field, 0..4)
}

/// One scripted answer: its fields, where `seq` goes, or a line of garbage instead.
#[derive(Clone, Debug)]
enum Scripted {
    Answer {
        fields: Vec<(String, Json)>,
        /// Where among the fields `seq` is written (a harness may put it last), or `None` to leave
        /// it out; `wrong_seq` makes it answer another request.
        seq_at: Option<usize>,
        wrong_seq: bool,
    },
    Garbage(String),
}

impl Scripted {
    /// The answer line to request `seq`.
    fn line(&self, seq: u64) -> String {
        match self {
            Scripted::Garbage(text) => text.clone(),
            Scripted::Answer { fields, seq_at, wrong_seq } => {
                let mut fields = fields.clone();
                if let Some(at) = seq_at {
                    let seq = if *wrong_seq { seq.wrapping_add(1) } else { seq };
                    fields.insert((*at).min(fields.len()), ("seq".to_owned(), Json::Number(seq.to_string())));
                }
                let mut line = String::new();
                Json::Object(fields).render(&mut line);
                line
            }
        }
    }
}

/// An answer with `fields`, its `seq` mostly right and anywhere among them; now and then garbage.
fn scripted(fields: impl Strategy<Value = Vec<(String, Json)>>) -> impl Strategy<Value = Scripted> {
    let answer = (fields, prop::option::weighted(0.98, 0..6_usize), prop::bool::weighted(0.02))
        .prop_map(|(fields, seq_at, wrong_seq)| Scripted::Answer { fields, seq_at, wrong_seq });
    prop_oneof![
        30 => answer,
        1 => ".{0,40}".prop_map(Scripted::Garbage),
        1 => prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| Scripted::Garbage(String::from_utf8_lossy(&b).into_owned())),
    ]
}

/// A `time` answer: samples cycled to the count asked for (rarely not), and other fields.
#[derive(Clone, Debug)]
struct TimeAnswer {
    samples: Vec<Json>,
    /// Answer with the requested count; otherwise with the samples as they are.
    exact_len: bool,
    rest: Scripted,
}

impl TimeAnswer {
    fn line(&self, seq: u64, count: usize) -> String {
        let Scripted::Answer { fields, seq_at, wrong_seq } = &self.rest else { return self.rest.line(seq) };
        let samples = if self.exact_len {
            self.samples.iter().cycle().take(count).cloned().collect()
        } else {
            self.samples.clone()
        };
        let mut fields = fields.clone();
        fields.insert(0, ("samples_ns".to_owned(), Json::Array(samples)));
        Scripted::Answer { fields, seq_at: *seq_at, wrong_seq: *wrong_seq }.line(seq)
    }
}

fn time_answer() -> impl Strategy<Value = TimeAnswer> {
    let sample = prop_oneof![
        40 => (1.0..1e6_f64).prop_map(|x| Json::Number(x.to_string())),
        1 => (1e13..f64::MAX).prop_map(|x| Json::Number(format!("{x:e}"))),
        1 => number().prop_map(Json::Number),
        1 => Just(Json::Null),
    ];
    let rest = prop_oneof![
        10 => Just(vec![]),
        10 => (1000..2000_u32).prop_map(|mhz| vec![("sm_clock_mhz".to_owned(), Json::Number(mhz.to_string()))]),
        1 => fields(),
    ];
    (prop::collection::vec(sample, 1..5), prop::bool::weighted(0.97), scripted(rest))
        .prop_map(|(samples, exact_len, rest)| TimeAnswer { samples, exact_len, rest })
}

/// Everything one harness answers about one case.
#[derive(Clone, Debug)]
struct Script {
    prepare: Scripted,
    check: Scripted,
    time: Vec<TimeAnswer>,
    release: Scripted,
}

/// Mostly a harness that behaves, each answer now and then one that does not.
fn script() -> impl Strategy<Value = Script> {
    let done = prop_oneof![
        20 => Just(vec![("ok".to_owned(), Json::Bool(true))]),
        1 => fields(),
    ];
    let outputs = (prop::collection::vec(output(), 0..3), finite(), finite()).prop_map(|(o, rtol, atol)| {
        vec![
            ("outputs".to_owned(), Json::Array(o)),
            ("rtol".to_owned(), Json::Number(rtol)),
            ("atol".to_owned(), Json::Number(atol)),
        ]
    });
    let check = prop_oneof![
        3 => Just(vec![("unchecked".to_owned(), Json::Bool(true))]),
        3 => correctness().prop_map(|c| vec![("correctness".to_owned(), c)]),
        8 => outputs,
        1 => fields(),
    ];
    (scripted(done.clone()), scripted(check), prop::collection::vec(time_answer(), 1..4), scripted(done))
        .prop_map(|(prepare, check, time, release)| Script { prepare, check, time, release })
}

/// A clock that moves only when samples are taken: one millisecond each.
#[derive(Debug, Default)]
struct SampleClock(Cell<Duration>);

impl Clock for SampleClock {
    fn now(&self) -> Duration {
        self.0.get()
    }
}

/// A backend that replays a script the way the `command` backend reads a harness: each request gets
/// the next line, parsed by `parse_answer`; a line that is not the answer to the request (garbage, a
/// blank line, another `seq`) becomes a warning, and the request then waits in vain until it times out.
struct Replay<'a> {
    script: &'a Script,
    clock: &'a SampleClock,
    seq: u64,
    times: usize,
    warnings: Vec<RunWarning>,
}

impl Replay<'_> {
    fn ask(&mut self, line: String, what: &str) -> Result<Answer, Failure> {
        self.seq += 1;
        match harness::parse_answer(&line) {
            Ok(Some(answer)) if answer.seq == self.seq => return Ok(answer),
            Ok(Some(answer)) => {
                self.warn(format!("an answer to request {}, which was not asked", answer.seq))
            }
            Ok(None) => {}
            Err(why) => self.warn(format!("output line was ignored: {why}")),
        }
        Err(Failure::timed_out(format!("the harness did not answer `{what}` in time")))
    }

    fn warn(&mut self, message: String) {
        self.warnings.push(RunWarning { case: None, message });
    }
}

impl Backend for Replay<'_> {
    fn prepare(&mut self, _: &Bench, _: &PlannedCase, _: &MeasureSettings) -> Result<Handle, Failure> {
        let line = self.script.prepare.line(self.seq + 1);
        self.ask(line, "prepare")?.into_done()?;
        Ok(Handle(0))
    }

    fn check(&mut self, _: Handle) -> Result<Check, Failure> {
        let line = self.script.check.line(self.seq + 1);
        self.ask(line, "check")?.into_check()
    }

    fn time(&mut self, order: &[Handle], _flush: bool) -> Result<Batch, Failure> {
        let answer = &self.script.time[self.times % self.script.time.len()];
        self.times += 1;
        self.clock.0.set(self.clock.0.get() + Duration::from_millis(order.len() as u64));
        let line = answer.line(self.seq + 1, order.len());
        self.ask(line, "time")?.into_batch(order.len())
    }

    fn release(&mut self, _: Handle) {
        let line = self.script.release.line(self.seq + 1);
        if let Err(failure) = self.ask(line, "release").and_then(Answer::into_done) {
            self.warn(format!("releasing the case: {}", failure.message));
        }
    }
}

fn settings() -> impl Strategy<Value = MeasureSettings> {
    (2..40_usize, 0..100_usize, 0.0..0.2_f64, 0.0..5.0_f64, 0.01..0.3_f64, any::<bool>()).prop_map(
        |(min_samples, more, target_rel_ci, warmup_ms, max_time_s, warm_cache)| MeasureSettings {
            min_samples,
            max_samples: min_samples + more,
            target_rel_ci,
            warmup_ms,
            max_time_s,
            warm_cache,
            ..MeasureSettings::default()
        },
    )
}

/// Measures one case from `script` and checks that its run file reads back; returns the case as read.
fn measure_and_reload(script: &Script, settings: &MeasureSettings) -> Result<CaseResult, TestCaseError> {
    let bench = Bench {
        name: "b".into(),
        params: vec![],
        filter: None,
        tune: vec![],
        constraints: vec![],
        flops: None,
        bytes: None,
        kind: BenchKind::Command(CommandBench {
            run: vec!["harness".into()],
            cwd: ".".into(),
            timeout_s: None,
        }),
    };
    let mut params = Params::new();
    params.insert("N", Value::Int(1024));
    let case =
        PlannedCase { case: Case::new("b", params), tune: Params::new(), flops: Some(2048.0), bytes: None };

    let clock = SampleClock::default();
    let mut backend = Replay { script, clock: &clock, seq: 0, times: 0, warnings: Vec::new() };
    let mut result = engine::measure_case(&mut backend, &bench, &case, settings, &clock, &mut |_| {}).result;
    // As `pawl run` writes it: the summary of the samples of a measured case.
    if result.status == CaseStatus::Ok {
        result.stats = stats::summarize(&result.samples_ns, 0.99).ok();
    }
    let status = result.status;

    let mut run = Run::new("suite", "2025-01-01T00:00:00Z", Environment::default(), settings.clone());
    run.cases.push(result);
    run.warnings = backend.warnings;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    run.save(&path).unwrap();
    let mut loaded = Run::load(&path).map_err(|e| {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        TestCaseError::fail(format!("a run file pawl wrote does not read back: {e}\n{text}"))
    })?;
    prop_assert_eq!(loaded.cases.len(), 1);
    prop_assert_eq!(loaded.cases[0].status, status);
    Ok(loaded.cases.remove(0))
}

/// A script whose every answer is the line given (`seq` 1 is `prepare`, 2 `check`, …), and whose
/// `time` answers are `samples` cycled to the count asked for.
fn fixed(prepare: &str, check: &str, samples: &[&str], release: &str) -> Script {
    let ok = Scripted::Answer { fields: vec![], seq_at: Some(0), wrong_seq: false };
    Script {
        prepare: Scripted::Garbage(prepare.to_owned()),
        check: Scripted::Garbage(check.to_owned()),
        time: vec![TimeAnswer {
            samples: samples.iter().map(|s| Json::Number((*s).to_owned())).collect(),
            exact_len: true,
            rest: ok,
        }],
        release: Scripted::Garbage(release.to_owned()),
    }
}

#[test]
fn samples_too_large_for_the_statistics_fail_the_case() {
    // 1e300 ns is a finite, positive number, but no duration: its mean overflowed to a `null` that
    // made the run file unreadable.
    let script = fixed(r#"{"seq":1,"ok":true}"#, r#"{"seq":2,"unchecked":true}"#, &["1e300"], "");
    let case = measure_and_reload(&script, &MeasureSettings::default()).unwrap();
    assert_eq!(case.status, CaseStatus::Failed);
    let error = case.error.unwrap();
    assert!(error.contains("the sample 1e300") && error.contains("at most a day"), "{error}");
}

#[test]
fn f64_outputs_far_from_their_reference_write_a_readable_run_file() {
    // The difference of ±1e308 overflows, and so did the squares of 1e200: `null`s in the run file.
    let check =
        r#"{"seq":2,"outputs":[{"name":"y","dtype":"f64","out":[1e308,1e200],"reference":[-1e308,0]}]}"#;
    let script = fixed(r#"{"seq":1,"ok":true}"#, check, &["1000"], r#"{"seq":3,"ok":true}"#);
    let case = measure_and_reload(&script, &MeasureSettings::default()).unwrap();
    assert_eq!(case.status, CaseStatus::Wrong);
    let correctness = case.correctness.unwrap();
    assert_eq!((correctness.mismatches, correctness.max_abs_error), (2, f64::MAX));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any single line: parsing and every conversion return, never panic; a line that parses
    /// re-serializes and parses back to the same answer.
    #[test]
    fn any_line_parses_or_is_named(script in scripted(fields()), count in 0..20_usize, seq in any::<u64>()) {
        let line = script.line(seq);
        match harness::parse_answer(&line) {
            Ok(Some(answer)) => {
                let again = serde_json::to_string(&answer).unwrap();
                prop_assert_eq!(harness::parse_answer(&again).unwrap(), Some(answer.clone()));
                let _ = answer.clone().into_done();
                let _ = answer.clone().into_check();
                if let Ok(batch) = answer.into_batch(count) {
                    prop_assert_eq!(batch.samples_ns.len(), count);
                    prop_assert!(batch.samples_ns.iter().all(|s| s.is_finite() && *s > 0.0));
                }
            }
            Ok(None) => prop_assert!(line.trim().is_empty()),
            Err(why) => prop_assert!(why.contains("not a harness answer"), "{}", why),
        }
    }

}

proptest! {
    // Each case writes and reads a run file (with an fsync): fewer of them.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any script of answers: the case's result, in a run file, reads back.
    #[test]
    fn every_run_file_from_answers_reads_back(script in script(), settings in settings()) {
        let _ = measure_and_reload(&script, &settings)?;
    }
}
