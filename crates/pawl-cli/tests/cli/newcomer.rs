//! What a newcomer sees: every message, exit code and output of the first steps, as snapshots (insta)
//! of the exit code, standard output and standard error. Paths of the temporary folder read `[DIR]`.

use std::path::Path;
use std::process::{Command as Process, Output};

use assert_cmd::Command;
use predicates::prelude::*;

use crate::common::Workspace;

/// The exit code, standard output and standard error of `output`, as a user reads them.
fn seen(output: &Output, dir: &Path) -> String {
    let text = format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().map_or_else(|| "none (killed by a signal)".to_owned(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = dir.display().to_string();
    let real = std::fs::canonicalize(&dir).map(|p| p.display().to_string()).unwrap_or_else(|_| dir.clone());
    text.replace(&real, "[DIR]").replace(&dir, "[DIR]")
}

/// `pawl` in `dir`, with no colour and no CI variables.
fn pawl_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pawl").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("PAWL_HISTORY");
    cmd
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    pawl_in(dir).args(args).output().unwrap()
}

// ---- errors: once, with what to do ----

#[test]
fn a_missing_suite_says_to_run_pawl_init() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(seen(&run_in(dir.path(), &["run"]), dir.path()));
}

#[test]
fn a_toml_syntax_error_shows_its_caret_block_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pawl.toml"), "[suite\nname = \"x\"\n").unwrap();
    let output = run_in(dir.path(), &["validate"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches('^').count(), 1, "{stderr}");
    insta::assert_snapshot!(seen(&output, dir.path()));
}

#[test]
fn a_command_bench_whose_program_is_missing_fails_validation() {
    let dir = tempfile::tempdir().unwrap();
    let suite = "[suite]\nname = \"s\"\n\n[[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"./not-built\"]\n\n\
                 [[bench]]\nname = \"c\"\nkind = \"command\"\nrun = [\"no-such-program-on-path\"]\n";
    std::fs::write(dir.path().join("pawl.toml"), suite).unwrap();
    insta::assert_snapshot!(seen(&run_in(dir.path(), &["validate"]), dir.path()));
    // Built, it validates.
    let program = dir.path().join("not-built");
    std::fs::write(&program, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let output = run_in(dir.path(), &["validate"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("not-built") && stderr.contains("no-such-program-on-path"), "{stderr}");
}

#[test]
fn compare_names_the_kind_of_file_it_was_given() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.pawl().args(["ratchet", "--accept-new", "base.json"]).assert().success();
    ws.pawl()
        .args(["compare", "base.json", "base.json", "--format", "json", "-o", "report.json"])
        .assert()
        .success();
    ws.write("notes.txt", "these are notes\n");
    let nvbench = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pawl-core/tests/fixtures/import/nvbench/test_ref.json");
    std::fs::copy(nvbench, ws.path("nvbench.json")).unwrap();
    let mut all = Vec::new();
    for (old, new) in [
        ("pawl.toml", "base.json"),
        ("base.json", "pawl-baseline.json"),
        ("base.json", "report.json"),
        ("base.json", "nvbench.json"),
        ("base.json", "notes.txt"),
        ("base.json", "missing.json"),
    ] {
        let output = ws.pawl().args(["compare", old, new]).output().unwrap();
        all.push(format!("$ pawl compare {old} {new}\n{}", seen(&output, ws.dir.path())));
    }
    insta::assert_snapshot!(all.join("\n"));
}

// ---- where thresholds come from ----

/// The header line naming the thresholds' source, and the exit code, of `pawl compare base.json new.json`.
fn thresholds_line(ws: &Workspace, dir: &str, extra: &[&str]) -> (String, Option<i32>) {
    let output =
        pawl_in(&ws.path(dir)).args(["compare", "base.json", "new.json"]).args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let line =
        stdout.lines().find(|l| l.starts_with("thresholds")).unwrap_or_else(|| panic!("{stdout}")).to_owned();
    (line, output.status.code())
}

#[test]
fn thresholds_come_from_the_runs_own_suite_and_the_header_says_which() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.run("new.json", &[("REPLAY_SCALE", "1.015")]);
    for dir in ["elsewhere", "other-suite"] {
        std::fs::create_dir(ws.path(dir)).unwrap();
        for file in ["base.json", "new.json"] {
            std::fs::copy(ws.path(file), ws.path(&format!("{dir}/{file}"))).unwrap();
        }
    }
    // A suite of another name with a 40% tolerance: it must not change the verdicts of these runs.
    let other = "[suite]\nname = \"other\"\ntolerance = 0.4\n\n[[bench]]\nname = \"b\"\nkind = \"command\"\nrun = [\"x\"]\n";
    std::fs::write(ws.path("other-suite/pawl.toml"), other).unwrap();

    let here = thresholds_line(&ws, ".", &[]);
    assert_eq!(here.0, "thresholds from suite file pawl.toml");
    let elsewhere = thresholds_line(&ws, "elsewhere", &[]);
    assert_eq!(elsewhere.0, "thresholds from pawl's defaults (no suite file)");
    let other = thresholds_line(&ws, "other-suite", &[]);
    assert_eq!(
        other.0,
        "thresholds from pawl's defaults: ./pawl.toml is suite `other`, not `replay` (--suite FILE names the suite \
         to use)"
    );
    assert_eq!(other.1, elsewhere.1, "a suite of another name changes nothing");
    let named = thresholds_line(&ws, "other-suite", &["--suite", "pawl.toml", "--tolerance", "0.3"]);
    assert_eq!(named.0, "thresholds from suite file pawl.toml, with --tolerance from the command line");
}

// ---- pawl init ----

#[test]
fn init_command_writes_a_suite_that_validates_runs_and_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["init", "--command"]);
    insta::assert_snapshot!("init_command", seen(&output, dir.path()));
    pawl_in(dir.path())
        .args(["validate", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("suite `starter` is valid: 1 bench, 3 cases"));
    pawl_in(dir.path()).args(["run", "-o", "run.json", "--max-time", "0.2"]).assert().success();
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run.json")).unwrap()).unwrap();
    let statuses: Vec<&str> =
        run["cases"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ok", "ok", "ok"], "the harness's check passed and it was timed");
    pawl_in(dir.path()).args(["ratchet", "--accept-new", "run.json"]).assert().success();

    // Again: refused, and nothing it wrote before is touched.
    std::fs::write(dir.path().join("harness.py"), "# mine\n").unwrap();
    let suite_before = std::fs::read(dir.path().join("pawl.toml")).unwrap();
    let again = run_in(dir.path(), &["init", "--command"]);
    insta::assert_snapshot!("init_refuses_to_overwrite", seen(&again, dir.path()));
    assert_eq!(std::fs::read(dir.path().join("pawl.toml")).unwrap(), suite_before);
    assert_eq!(std::fs::read_to_string(dir.path().join("harness.py")).unwrap(), "# mine\n");
}

#[test]
fn init_cuda_writes_a_kernel_suite_that_validates_without_a_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["init", "--cuda", "kernels"]);
    insta::assert_snapshot!("init_cuda", seen(&output, dir.path()));
    pawl_in(&dir.path().join("kernels"))
        .args(["validate", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("saxpy/N=1048576  [BLOCK=256]"));
    // One file of the starter already there: nothing is written at all.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("saxpy.cu"), "// mine\n").unwrap();
    pawl_in(&other)
        .args(["init", "--cuda"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("will not overwrite"));
    assert!(!other.join("pawl.toml").exists(), "nothing written when one file is in the way");
}

// ---- completions and manual pages ----

#[test]
fn completions_for_every_shell_and_bash_completes_commands_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = run_in(dir.path(), &["completions", shell]);
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "{shell}: {}",
            seen(&output, dir.path())
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("compare"), "{shell}");
    }
    let script = dir.path().join("pawl.bash");
    std::fs::write(&script, run_in(dir.path(), &["completions", "bash"]).stdout).unwrap();
    // What bash offers for `pawl ru<TAB>` and `pawl compare --s<TAB>`, from the script itself.
    let complete = |words: &str, current: usize| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
             _pawl pawl \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let output = Process::new("bash").args(["-c", &program]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(complete("pawl ru", 1), "run");
    assert_eq!(complete("pawl compare --s", 2), "--suite");
    assert!(complete("pawl init --", 2).split(' ').any(|w| w == "--command"));
    insta::assert_snapshot!(
        "completions_unknown_shell",
        seen(&run_in(dir.path(), &["completions", "tcsh"]), dir.path())
    );
}

#[test]
fn man_prints_a_page_and_writes_one_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["man"]);
    assert!(output.status.success());
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.contains(".TH pawl 1") && page.contains("performance ratchet"), "{page}");
    let pages = dir.path().join("man");
    pawl_in(dir.path()).args(["man", "--dir", "man"]).assert().success();
    for name in ["pawl.1", "pawl-run.1", "pawl-init.1", "pawl-compare.1", "pawl-history-add.1"] {
        let text = std::fs::read_to_string(pages.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.starts_with(".ie"), "{name} is roff");
    }
    assert!(!pages.join("pawl-__worker.1").exists(), "internal commands have no page");
}

// ---- pawl env without a GPU ----

#[test]
fn env_without_a_gpu_reports_what_is_missing_and_exits_0() {
    if pawl_cuda::driver_present() {
        eprintln!("skipping: an NVIDIA driver is here; this test is of a machine without one");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let env = |args: &[&str]| {
        pawl_in(dir.path())
            .args(args)
            .env("PAWL_NVRTC", "/nonexistent/libnvrtc.so.13")
            .env("PAWL_CUPTI", "/nonexistent/libcupti.so.13")
            .env_remove("PAWL_CLOCK")
            .env("PATH", "/usr/bin:/bin")
            .env_remove("PAWL_NCU")
            .output()
            .unwrap()
    };
    let host = gethostname();
    let machine = |text: String| {
        text.lines()
            .map(|line| match line {
                l if l.starts_with("pawl ") => "pawl [VERSION] on [HOST] ([OS])".to_owned(),
                l if l.starts_with("CPU ") => "CPU          [MODEL], [N] threads".to_owned(),
                l => l.replace(&host, "[HOST]"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let human = env(&["env"]);
    insta::assert_snapshot!("env_without_a_gpu", machine(seen(&human, dir.path())));

    let json = env(&["env", "--json"]);
    assert_eq!(json.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert_eq!(report["driver"]["found"], false);
    assert_eq!(report["nvrtc"]["found"], false);
    assert!(report["nvrtc"]["detail"].as_str().unwrap().contains("PAWL_NVRTC"));
    assert_eq!(report["clock"]["version"], "CUDA events");
    assert!(report["clock"]["detail"].as_str().unwrap().contains("PAWL_CUPTI"));
    assert_eq!(report["ncu"]["found"], false);
    assert!(report["gpu"].is_null());
    assert!(report["cpu"]["threads"].as_u64().unwrap() >= 1);
}

fn gethostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

/// NVRTC from the `nvidia-cuda-nvrtc` wheel of the active Python environment, with nothing on
/// `LD_LIBRARY_PATH`: found by itself. Runs where the wheel's folder is on `LD_LIBRARY_PATH` (as
/// `.ci/run` puts it), made into a virtual environment's `site-packages` here.
#[test]
fn env_finds_nvrtc_in_the_active_python_environment() {
    let Some(wheel_lib) = std::env::var_os("LD_LIBRARY_PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("libnvrtc.so.13").is_file() && dir.ends_with("nvidia/cu13/lib"))
    else {
        eprintln!("skipping: no nvidia-cuda-nvrtc wheel on LD_LIBRARY_PATH (.ci/run installs one)");
        return;
    };
    let venv = tempfile::tempdir().unwrap();
    let site = venv.path().join("lib/python3.12/site-packages/nvidia/cu13");
    std::fs::create_dir_all(&site).unwrap();
    std::os::unix::fs::symlink(&wheel_lib, site.join("lib")).unwrap();
    let output = pawl_in(venv.path())
        .args(["env", "--json"])
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PAWL_NVRTC")
        .env("VIRTUAL_ENV", venv.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", seen(&output, venv.path()));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["nvrtc"]["found"], true, "{report:#}");
    let detail = report["nvrtc"]["detail"].as_str().unwrap();
    if !detail.contains("system's library search") {
        assert_eq!(detail, format!("from the Python environment {}", venv.path().display()));
        assert!(report["nvrtc"]["version"].as_str().unwrap().starts_with("13."), "{report:#}");
    }
}

// ---- `-o -`, --quiet, --verbose ----

#[test]
fn dash_means_standard_output_for_every_file_written() {
    let ws = Workspace::new();
    let run = ws.pawl().args(["run", "-o", "-"]).output().unwrap();
    assert!(run.status.success(), "{}", seen(&run, ws.dir.path()));
    let parsed: serde_json::Value = serde_json::from_slice(&run.stdout).expect("the run file on stdout");
    assert_eq!(parsed["schema"], "pawl-run/1");
    assert_eq!(parsed["cases"].as_array().unwrap().len(), 5);
    assert!(!ws.path("-").exists(), "no file named `-`");
    // The table goes to standard error.
    let stderr = String::from_utf8_lossy(&run.stderr);
    insta::assert_snapshot!(
        "run_to_stdout_stderr",
        format!("exit code: {}\n{stderr}", run.status.code().unwrap())
    );

    std::fs::write(ws.path("base.json"), &run.stdout).unwrap();
    for args in [
        &["compare", "base.json", "base.json", "--format", "json", "-o", "-"][..],
        &["merge", "base.json", "-o", "-"],
        &["ratchet", "--accept-new", "--baseline", "b.json", "base.json", "--format", "json", "-o", "-"],
        &["check", "--run", "base.json", "--baseline", "b.json", "--json", "-"],
    ] {
        let output = ws.pawl().args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", seen(&output, ws.dir.path()));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", seen(&output, ws.dir.path())));
        assert!(json["schema"].as_str().unwrap().starts_with("pawl-"), "{args:?}");
        assert!(!ws.path("-").exists(), "{args:?}: no file named `-`");
    }
    let check = ws
        .pawl()
        .args(["check", "--run", "base.json", "--baseline", "b.json", "--json", "-"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("thresholds from suite file pawl.toml"),
        "the table on stderr"
    );
    // Under GitHub Actions the annotations go to standard error then, and the JSON stays whole.
    ws.run("slow.json", &[("REPLAY_SCALE", "1.2")]);
    let annotated = ws
        .pawl()
        .args(["check", "--run", "slow.json", "--baseline", "b.json", "--json", "-"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(annotated.status.code(), Some(1), "{}", seen(&annotated, ws.dir.path()));
    let report: serde_json::Value =
        serde_json::from_slice(&annotated.stdout).expect("only the report on stdout");
    assert!(report["summary"]["regressed"].as_u64().unwrap() > 0);
    assert!(
        String::from_utf8_lossy(&annotated.stderr).contains("::error"),
        "{}",
        seen(&annotated, ws.dir.path())
    );
    let both =
        ws.pawl().args(["check", "--run", "base.json", "--json", "-", "--markdown", "-"]).output().unwrap();
    insta::assert_snapshot!("two_outputs_to_stdout", seen(&both, ws.dir.path()));
}

#[test]
fn quiet_keeps_only_warnings_and_errors_and_verbose_gives_every_note() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    let loud = ws.pawl().args(["ratchet", "--accept-new", "--dry-run", "base.json"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&loud.stderr).contains("baseline: added"),
        "{}",
        seen(&loud, ws.dir.path())
    );
    let quiet =
        ws.pawl().args(["--quiet", "ratchet", "--accept-new", "--dry-run", "base.json"]).output().unwrap();
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "", "--quiet says nothing on stderr");
    assert_eq!(quiet.stdout, loud.stdout, "the report itself is the same");

    let verbose = ws.pawl().args(["compare", "-v", "base.json", "base.json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&verbose.stdout);
    assert!(stdout.contains("details:"), "{stdout}");
    assert!(stdout.contains("(unchanged): no change, within the 2% tolerance"), "{stdout}");
    ws.pawl()
        .args(["-q", "-v", "env"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn the_human_table_fits_120_columns() {
    let ws = Workspace::new();
    ws.run("base.json", &[]);
    ws.run("new.json", &[("REPLAY_SCALE", "1.2")]);
    for args in [&["compare", "base.json", "new.json"][..], &["run", "-o", "again.json"]] {
        let output = ws.pawl().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with(' ') || l.starts_with('─')).collect();
        assert!(lines.len() > 5, "{stdout}");
        for line in lines {
            assert!(line.chars().count() <= 120, "{} columns: {line}", line.chars().count());
        }
    }
}
