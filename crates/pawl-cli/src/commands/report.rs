//! `pawl report RUN… -o DIR`: the comparison report of implementations across configurations, from
//! run files alone (see pawl-sota).

use std::path::Path;

use anyhow::{Context, Result, bail};
use pawl_core::ceilings::Ceilings;
use pawl_core::run::Run;
use pawl_core::stats::BootstrapSettings;
use pawl_sota::{Options, Report};

use super::Outcome;
use crate::cli::SotaReportArgs;

pub fn run(args: &SotaReportArgs) -> Result<Outcome> {
    let mut runs = Vec::with_capacity(args.runs.len());
    for path in &args.runs {
        let run = Run::load(path)?;
        runs.push((path.display().to_string(), run));
    }
    let mut options = Options {
        reference: args.reference.clone(),
        confidence: args.confidence,
        bootstrap: BootstrapSettings { resamples: 10_000, seed: args.bootstrap_seed },
        ..Options::default()
    };
    if let Some(title) = &args.title {
        options.title = title.clone();
    }
    if let Some(path) = &args.ceilings {
        options.ceilings = Some(Ceilings::load(path)?);
    }
    if let Some(path) = &args.software {
        options.software = software(path)?;
    }
    if let Some(path) = &args.commands {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        options.commands =
            text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    }
    let report = Report::build(&runs, &options)?;
    let written = pawl_sota::write(&report, &args.output, &command_line())?;
    let (measured, possible) = report.counts();
    crate::log::info(format_args!(
        "pawl: {} configurations × {} implementations, {measured} of {possible} cells measured",
        report.configurations.len(),
        report.implementations.len()
    ));
    println!("{}", written.markdown.display());
    println!("{}", written.html.display());
    println!("{}", written.json.display());
    println!("{} figures in {}", written.figures.len(), args.output.join("figures").display());
    Ok(Outcome::Pass)
}

/// A JSON object of names and version strings.
fn software(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(object) = value.as_object() else {
        bail!(
            "{}: expected a JSON object of names and versions, such as {{\"PyTorch\": \"2.11.0\"}}",
            path.display()
        );
    };
    let mut out = Vec::new();
    for (name, version) in object {
        let version = match version {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "not available".to_owned(),
            other => other.to_string(),
        };
        out.push((name.clone(), version.chars().take(200).collect()));
    }
    Ok(out)
}

/// This command as it was typed, for the reproducibility section.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).map(|a| shell_word(&a)).collect();
    format!("pawl {}", args.join(" "))
}

fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
