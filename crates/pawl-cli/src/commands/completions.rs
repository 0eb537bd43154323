//! `pawl completions SHELL` and `pawl man`: shell completions and manual pages, generated from the same
//! command-line definition clap parses, so they never disagree with it.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::Outcome;
use crate::cli::{Cli, CompletionsArgs, ManArgs};

pub fn completions(args: &CompletionsArgs) -> Result<Outcome> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut Cli::command(), "pawl", &mut out);
    out.flush().context("cannot write the completion script")?;
    Ok(Outcome::Pass)
}

pub fn man(args: &ManArgs) -> Result<Outcome> {
    let command = Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
            crate::log::info(format_args!(
                "pawl man: pawl.1 and a page for each command written to {} (read one with `man -l {}/pawl-run.1`)",
                dir.display(),
                dir.display()
            ));
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out).context("cannot write the manual page")?;
            out.flush().context("cannot write the manual page")?;
        }
    }
    Ok(Outcome::Pass)
}
