//! `pawl init [--cuda|--command] [DIR]`: a starter suite to begin from, that validates as written (and,
//! for `--command`, runs on any machine). Refuses to overwrite anything: every file is checked before
//! the first is written, and each is created only where none exists.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pawl_core::plan::{self, Selection};

use super::{Outcome, load_suite};
use crate::cli::InitArgs;
use crate::log;

/// A file of a starter suite: its name and text.
struct Template {
    name: &'static str,
    text: &'static str,
    /// What it is, for the list of files written.
    about: &'static str,
}

const CUDA: [Template; 2] = [
    Template {
        name: "pawl.toml",
        text: include_str!("../../templates/cuda/pawl.toml"),
        about: "the suite: bench `saxpy` over two sizes, with its reference",
    },
    Template {
        name: "saxpy.cu",
        text: include_str!("../../templates/cuda/saxpy.cu"),
        about: "the kernel and its reference, compiled with NVRTC",
    },
];

const COMMAND: [Template; 2] = [
    Template {
        name: "pawl.toml",
        text: include_str!("../../templates/command/pawl.toml"),
        about: "the suite: bench `squares` over three sizes",
    },
    Template {
        name: "harness.py",
        text: include_str!("../../templates/command/harness.py"),
        about: "the harness pawl drives: times CPU work (pawl's docs/harness.md)",
    },
];

pub fn run(args: &InitArgs) -> Result<Outcome> {
    let cuda = match (args.cuda, args.command) {
        (true, _) => true,
        (_, true) => false,
        // Neither asked: a CUDA suite where it can be measured, else one that runs anywhere.
        _ => {
            let driver = pawl_cuda::driver_present();
            log::info(if driver {
                "pawl init: an NVIDIA driver is here: writing a CUDA suite (`--command` for a harness one)"
            } else {
                "pawl init: no NVIDIA driver here: writing a command suite that runs on the CPU (`--cuda` for a \
                 CUDA one)"
            });
            driver
        }
    };
    let templates: &[Template] = if cuda { &CUDA } else { &COMMAND };
    write_all(&args.dir, templates)?;

    // The starter must validate as written; if it did not, the fault would be pawl's.
    let suite_path = args.dir.join("pawl.toml");
    let suite = load_suite(&suite_path).context("the starter suite pawl just wrote does not load")?;
    let plans = plan::plan(&suite, &Selection { bench: None, filter: None })?;
    let cases: usize = plans.iter().map(|p| p.cases.len()).sum();

    let mut out = std::io::stdout().lock();
    let kind = if cuda { "cuda" } else { "command" };
    writeln!(out, "wrote a starter suite ({kind} bench, {cases} cases) in {}:", shown(&args.dir))?;
    for template in templates {
        writeln!(out, "  {:<11} {}", template.name, template.about)?;
    }
    writeln!(out, "next:")?;
    if args.dir != Path::new(".") {
        writeln!(out, "  cd {}", args.dir.display())?;
    }
    writeln!(out, "  pawl validate --list                  check the suite, list its cases")?;
    writeln!(out, "  pawl run -o run-1.json                measure (a table, and the run file)")?;
    writeln!(out, "  pawl ratchet --accept-new run-1.json  make it the first baseline")?;
    writeln!(out, "  pawl check                            measure again and compare: what CI runs")?;
    if !cuda && !super::validate::on_path("python3") {
        log::warn(
            "pawl init",
            "the harness runs with `python3`, which is not on PATH here; install Python 3",
        );
    }
    Ok(Outcome::Pass)
}

/// Writes every template into `dir`, or none: a file already there stops it before anything is written.
fn write_all(dir: &Path, templates: &[Template]) -> Result<()> {
    let existing: Vec<PathBuf> =
        templates.iter().map(|t| dir.join(t.name)).filter(|p| p.symlink_metadata().is_ok()).collect();
    if !existing.is_empty() {
        let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "will not overwrite {}: `pawl init` only writes new files; move {} away, or give another folder: \
             `pawl init DIR`",
            names.join(" and "),
            if names.len() == 1 { "it" } else { "them" }
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the folder {}", dir.display()))?;
    for template in templates {
        let path = dir.join(template.name);
        // `create_new`: should a file appear meanwhile, it is still not overwritten.
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "will not overwrite {}: it appeared while pawl init was writing",
                    path.display()
                )
            } else {
                anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
            }
        })?;
        file.write_all(template.text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn shown(dir: &Path) -> String {
    if dir == Path::new(".") { "the current folder".to_owned() } else { dir.display().to_string() }
}
