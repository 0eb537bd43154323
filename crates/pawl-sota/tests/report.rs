//! The SOTA report on recorded data: its numbers are the run files' statistics, the winner/tie rule
//! holds, every figure parses and shows every case, PNGs decode, the HTML stands alone, and report.md
//! is stable (golden snapshot).

use std::path::{Path, PathBuf};

use pawl_core::case::CaseId;
use pawl_core::ceilings::{CEILINGS_SCHEMA, Ceiling, CeilingKind, Ceilings};
use pawl_core::run::{CaseResult, CaseStatus, Environment, GpuInfo, Run};
use pawl_core::stats;
use pawl_core::suite::MeasureSettings;
use pawl_core::value::{Params, Value};
use pawl_sota::model::{CellStatus, Checked};
use pawl_sota::{Options, Report};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The real H100 recording (see tests/fixtures/README.md).
fn h100() -> (String, Run) {
    let path = fixture("h100_sdpa.run.json");
    ("h100_sdpa.run.json".to_owned(), Run::load(&path).unwrap())
}

/// Synthetic ceilings for drawing rooflines in tests, labelled as such in their method.
fn synthetic_ceilings() -> Ceilings {
    let ceiling = |kind, value: f64, datasheet| Ceiling {
        kind,
        value,
        low: value * 0.995,
        high: value * 1.005,
        confidence: 0.95,
        samples: 100,
        work: 1e9,
        median_ns: 1e6,
        method: "synthetic, for tests".into(),
        datasheet,
    };
    Ceilings {
        schema: CEILINGS_SCHEMA.into(),
        gpu_name: "NVIDIA H100 80GB HBM3".into(),
        gpu_uuid: "GPU-00000000-0000-0000-0000-000000000000".into(),
        driver_version: "580.159.04".into(),
        measured_at: "synthetic".into(),
        pawl_version: "0.1.0".into(),
        datasheet: Some("NVIDIA H100 Tensor Core GPU datasheet (H100 SXM)".into()),
        ceilings: vec![
            ceiling(CeilingKind::DramCopy, 2900.0, Some(3350.0)),
            ceiling(CeilingKind::DramRead, 3000.0, Some(3350.0)),
            ceiling(CeilingKind::TensorF16, 780.0, Some(989.5)),
            ceiling(CeilingKind::TensorBf16, 790.0, Some(989.5)),
        ],
    }
}

fn options() -> Options {
    Options { ceilings: Some(synthetic_ceilings()), ..Options::default() }
}

#[test]
fn numbers_equal_the_run_files_statistics() {
    let (name, run) = h100();
    let report = Report::build(&[(name, run.clone())], &options()).unwrap();
    assert_eq!(report.implementations, ["sdpa_flash", "sdpa_cudnn"]);
    assert_eq!(report.configurations.len(), 2);
    for case in &run.cases {
        let stats = stats::summarize(&case.samples_ns, 0.99).unwrap();
        let i = report
            .implementations
            .iter()
            .position(|x| *x == pawl_sota::model::implementation_of(case))
            .unwrap();
        let c = report.configurations.iter().position(|c| case.id.as_str().contains(&c.label)).unwrap();
        let cell = &report.cells[c][i];
        let t = cell.time.as_ref().unwrap();
        assert_eq!(t.median_ns, stats.median_ns, "{}", case.id);
        assert_eq!(t.n, stats.n);
        assert!(t.low_ns <= t.median_ns && t.median_ns <= t.high_ns);
        let flops = case.flops.unwrap();
        assert_eq!(t.tflops, Some(flops / t.median_ns * 1e9 / 1e12));
        assert_eq!(cell.checked, Some(Checked::Unchecked), "the recording checked nothing");
        let reference = &report.cells[c][0].time.as_ref().unwrap().median_ns;
        assert_eq!(cell.speedup, Some(reference / t.median_ns));
        // The share of the roof: at these intensities (64 and 1024 FLOP/byte) the roof is min(780 TFLOP/s,
        // 3000 GB/s × intensity).
        let intensity = flops / case.bytes.unwrap();
        let roof = (3000e9 * intensity / 1e12).min(780.0);
        assert!((t.roof_fraction.unwrap() - t.tflops.unwrap() / roof).abs() < 1e-12);
    }
    // The recording's figures: cuDNN 52.1 µs and 3.78 ms against flash's 76.7 µs and 6.59 ms.
    assert_eq!(report.decisions.iter().filter_map(|d| d.winner).collect::<Vec<_>>(), [1, 1]);
    let bootstrap = Report::build(&[h100()], &options()).unwrap();
    assert_eq!(
        serde_json::to_string(&bootstrap.cells).unwrap(),
        serde_json::to_string(&report.cells).unwrap(),
        "seeded: the same files give the same intervals"
    );
}

fn case(bench: &str, config: &str, implementation: &str, samples: Vec<f64>) -> CaseResult {
    let mut params = Params::new();
    params.insert("S", Value::Int(config.len() as i64 * 128));
    params.insert("name", Value::from(config));
    params.insert("impl", Value::from(implementation));
    let id = CaseId::new(bench, &params);
    let mut result = CaseResult::not_measured(id, bench, params, CaseStatus::Ok, "");
    result.error = None;
    result.samples_ns = samples;
    result.flops = Some(1e12);
    result.bytes = Some(1e9);
    result
}

/// `n` samples spread evenly over `center` ± `half`.
fn spread(center: f64, half: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| center - half + 2.0 * half * i as f64 / (n - 1) as f64).collect()
}

fn synthetic_run(cases: Vec<CaseResult>) -> Run {
    let mut run =
        Run::new("synthetic", "2026-01-01T00:00:00Z", Environment::default(), MeasureSettings::default());
    run.cases = cases;
    run
}

#[test]
fn a_winner_needs_an_interval_clear_of_every_other() {
    let run = synthetic_run(vec![
        // Clearly apart: A wins.
        case("b", "apart", "A", spread(100.0, 0.5, 101)),
        case("b", "apart", "B", spread(110.0, 0.5, 101)),
        // Overlapping: a tie of A and B.
        case("b", "close", "A", spread(100.0, 2.0, 101)),
        case("b", "close", "B", spread(100.5, 2.0, 101)),
        // The runner-up is clear, but a slower one measured five times has a median's interval that
        // reaches the fastest: a tie of A and C.
        case("b", "wide", "A", spread(100.0, 0.5, 101)),
        case("b", "wide", "B", spread(120.0, 0.5, 101)),
        case("b", "wide", "C", vec![95.0, 99.0, 130.0, 180.0, 200.0]),
        // One implementation only: no winner, no tie.
        case("b", "alone", "A", spread(100.0, 0.5, 101)),
    ]);
    let report = Report::build(&[("synthetic.json".into(), run)], &Options::default()).unwrap();
    let at = |label: &str| report.configurations.iter().position(|c| c.label.contains(label)).unwrap();
    let (a, b, c) = (0, 1, 2);
    let apart = &report.decisions[at("apart")];
    assert_eq!((apart.winner, apart.tied.clone()), (Some(a), vec![]));
    assert!((apart.margin.unwrap() - 1.1).abs() < 1e-9);
    let d = apart.detectable_change.unwrap();
    assert!(d > 0.0 && d < 0.1, "the detectable change is positive and below the 10% it detected: {d}");
    let close = &report.decisions[at("close")];
    assert_eq!((close.winner, close.tied.clone()), (None, vec![a, b]));
    assert!(
        close.detectable_change.unwrap() > close.margin.unwrap() - 1.0,
        "a tie: the margin is below what the sweep could detect"
    );
    let wide = &report.decisions[at("wide")];
    assert_eq!((wide.winner, wide.tied.clone()), (None, vec![a, c]));
    assert_eq!(wide.runner_up, Some(b));
    let alone = &report.decisions[at("alone")];
    assert_eq!((alone.fastest, alone.winner, alone.runner_up), (Some(a), None, None));
    assert!(alone.tied.is_empty() && alone.detectable_change.is_none());
    assert_eq!(report.cells[at("alone")][b].status, CellStatus::NotInSweep);
    let md = pawl_sota::document::markdown(&pawl_sota::sections::blocks(&report, &[], "pawl report"), &[]);
    assert!(md.contains("| tie: A, B |") && md.contains("| tie: A, C |") && md.contains("A (alone)"), "{md}");
}

#[test]
fn cases_that_did_not_run_say_why() {
    let mut skipped = case("b", "x", "B", vec![]);
    skipped.status = CaseStatus::Skipped;
    skipped.error = Some("not supported: flash_attn is not available here".into());
    let mut wrong = case("b", "x", "C", vec![]);
    wrong.status = CaseStatus::Wrong;
    wrong.error = Some("`o`[3] is 2.5".into());
    let run = synthetic_run(vec![case("b", "x", "A", spread(10.0, 0.1, 50)), skipped, wrong]);
    let report = Report::build(&[("s.json".into(), run)], &Options::default()).unwrap();
    let row = &report.cells[0];
    assert_eq!((row[1].status, row[2].status), (CellStatus::Skipped, CellStatus::Wrong));
    assert_eq!(row[2].checked, Some(Checked::Wrong));
    let md = pawl_sota::document::markdown(&pawl_sota::sections::blocks(&report, &[], "pawl report"), &[]);
    assert!(md.contains("flash\\_attn is not available here"), "{md}");
    assert!(md.contains("\\`o\\`\\[3\\] is 2.5"), "{md}");
    assert_eq!(report.counts(), (1, 3));
}

#[test]
fn bad_inputs_are_refused_with_the_files_named() {
    let (name, run) = h100();
    let mut other = run.clone();
    other.env.gpu = Some(GpuInfo { name: "NVIDIA A100-SXM4-80GB".into(), ..run.env.gpu.clone().unwrap() });
    other.cases.clear();
    other.cases.push(case("b", "x", "A", vec![1.0, 2.0]));
    let err =
        Report::build(&[(name.clone(), run.clone()), ("a100.json".into(), other)], &options()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("a100.json") && text.contains("A100") && text.contains(&name), "{text}");
    let err = Report::build(&[(name.clone(), run.clone()), ("again.json".into(), run.clone())], &options())
        .unwrap_err()
        .to_string();
    assert!(err.contains("appears twice") && err.contains("again.json"), "{err}");
    let unknown = Options { reference: Some("cutlass".into()), ..options() };
    let err = Report::build(&[(name.clone(), run.clone())], &unknown).unwrap_err().to_string();
    assert!(err.contains("`cutlass`") && err.contains("`sdpa_flash`"), "{err}");
    assert!(Report::build(&[], &options()).is_err());
    let bad = Options { confidence: 1.5, ..options() };
    assert!(Report::build(&[(name, run)], &bad).unwrap_err().to_string().contains("--confidence"));
}

/// Every element and attribute of an SVG, read to the end: an error anywhere fails.
fn parse_xml(text: &str, file: &Path) {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                for attribute in e.attributes() {
                    attribute.unwrap_or_else(|err| panic!("{}: {err}", file.display()));
                }
            }
            Ok(_) => {}
            Err(e) => panic!("{} is not XML: {e}", file.display()),
        }
    }
}

#[test]
fn figures_parse_show_every_case_and_pngs_decode() {
    let dir = tempfile::tempdir().unwrap();
    let report = Report::build(&[h100()], &options()).unwrap();
    let written = pawl_sota::write(&report, dir.path(), "pawl report h100_sdpa.run.json").unwrap();
    let svgs: Vec<&PathBuf> = written.figures.iter().filter(|p| p.extension().unwrap() == "svg").collect();
    let pngs: Vec<&PathBuf> = written.figures.iter().filter(|p| p.extension().unwrap() == "png").collect();
    // A heatmap, and bars and a roofline for each of the two groups.
    assert_eq!((svgs.len(), pngs.len()), (5, 5), "{:?}", written.figures);
    let mut all_text = String::new();
    for svg in &svgs {
        let text = std::fs::read_to_string(svg).unwrap();
        parse_xml(&text, svg);
        all_text.push_str(&text);
    }
    let heatmap = std::fs::read_to_string(dir.path().join("figures/heatmap_1.svg")).unwrap();
    for config in &report.configurations {
        assert!(heatmap.contains(&config.label), "the heatmap has a row for {}", config.label);
    }
    for implementation in &report.implementations {
        assert!(heatmap.contains(implementation.as_str()));
        assert!(all_text.matches(implementation.as_str()).count() >= 5, "{implementation} in every figure");
    }
    for group in &report.groups {
        let bars =
            std::fs::read_to_string(dir.path().join(format!("figures/bars_{}.svg", group.slug))).unwrap();
        let roofline =
            std::fs::read_to_string(dir.path().join(format!("figures/roofline_{}.svg", group.slug))).unwrap();
        for label in &group.labels {
            assert!(bars.contains(label.as_str()), "bars of {} show {label}", group.title);
        }
        // Every measured cell of the group is a labelled point with its share of the measured roof.
        for &c in &group.configurations {
            for cell in &report.cells[c] {
                let share = format!("{:.0}%", 100.0 * cell.time.as_ref().unwrap().roof_fraction.unwrap());
                assert!(roofline.contains(&share), "{share} in {}", group.title);
            }
        }
        assert!(roofline.contains("measured: DRAM read 3000 GB/s, 780 TFLOP/s"), "the measured roof");
        assert!(roofline.contains("datasheet: 3350 GB/s, 990 TFLOP/s"), "the datasheet's roof");
    }
    for png in &pngs {
        let bytes = std::fs::read(png).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert!(info.width >= 400 && info.height >= 100, "{}", png.display());
        let ink = pixels.chunks(3).filter(|p| p.iter().all(|&c| c < 100)).count();
        assert!(ink > 300, "{} has text and axes drawn", png.display());
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&written.json).unwrap()).unwrap();
    assert_eq!(json["schema"], "pawl-sota-report/1");
    assert_eq!(json["figures"].as_array().unwrap().len(), 5);
    let median = json["cells"][0][0]["time"]["median_ns"].as_f64().unwrap();
    assert_eq!(median, report.cells[0][0].time.as_ref().unwrap().median_ns);
}

#[test]
fn the_html_page_stands_alone() {
    let dir = tempfile::tempdir().unwrap();
    let report = Report::build(&[h100()], &options()).unwrap();
    let written = pawl_sota::write(&report, dir.path(), "pawl report h100_sdpa.run.json").unwrap();
    let page = std::fs::read_to_string(&written.html).unwrap();
    assert!(page.contains("Content-Security-Policy") && page.contains("default-src 'none'"));
    for outside in ["src=\"http", "href=\"http", "<link", "<img", "url(http", "@import"] {
        assert!(!page.contains(outside), "the page loads nothing: found `{outside}`");
    }
    assert_eq!(page.matches("<svg").count(), 5, "every figure inline");
    for config in &report.configurations {
        assert!(page.contains(&config.label));
    }
    assert!(page.contains("<details>") && page.contains("Reproducibility"));
}

#[test]
fn report_md_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options();
    options.software = vec![("PyTorch".into(), "2.11.0+cu130".into())];
    options.commands =
        vec!["pawl run examples/sota/pawl.toml --bench torch_sdpa -o h100_sdpa.run.json".into()];
    let report = Report::build(&[h100()], &options).unwrap();
    let written = pawl_sota::write(&report, dir.path(), "pawl report h100_sdpa.run.json -o report").unwrap();
    let markdown = std::fs::read_to_string(&written.markdown).unwrap();
    insta::with_settings!({filters => vec![(r"pawl \d+\.\d+\.\d+", "pawl [version]")]}, {
        insta::assert_snapshot!(markdown);
    });
}
