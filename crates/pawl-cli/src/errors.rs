//! An error as the reader sees it: its message once, each cause of its chain once (a cause whose text
//! the message already quotes is not repeated), then, where pawl knows, a line saying what to do.

use std::io::ErrorKind;

use pawl_core::files::FileError;
use pawl_core::suite::SuiteError;
use pawl_cuda::CudaError;

/// The message and its causes on one line each joined by `: `, every text once.
pub fn message(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        let cause = cause.trim();
        if !cause.is_empty() && !text.contains(cause) {
            text.push_str(": ");
            text.push_str(cause);
        }
    }
    text
}

/// What to do about the error, where its message does not say it already.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    err.chain()
        .find_map(|cause| {
            if let Some(err) = cause.downcast_ref::<SuiteError>() {
                return suite_hint(err);
            }
            if let Some(err) = cause.downcast_ref::<FileError>() {
                return file_hint(err);
            }
            if let Some(err) = cause.downcast_ref::<CudaError>() {
                return cuda_hint(err);
            }
            None
        })
        .or_else(|| {
            // A file named on the command line that is not there, read without one of the types above.
            let missing = err
                .chain()
                .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == ErrorKind::NotFound);
            missing.then_some("check the path: a relative one starts from the current folder")
        })
}

fn suite_hint(err: &SuiteError) -> Option<&'static str> {
    match err {
        SuiteError::Read { source, .. } if source.kind() == ErrorKind::NotFound => Some(
            "`pawl init` writes a starter pawl.toml here (`--command` for one that runs without a GPU); \
             or give the suite file's path, as in `pawl run path/to/pawl.toml`",
        ),
        SuiteError::Syntax { .. } => Some(
            "the suite file is not valid TOML: fix it at the line shown (docs/suite.md has a complete example)",
        ),
        SuiteError::At { .. } | SuiteError::Invalid { .. } | SuiteError::Case { .. } => {
            Some("fix the suite file as the message says; docs/suite.md describes every key")
        }
        SuiteError::Read { .. } => None,
    }
}

fn file_hint(err: &FileError) -> Option<&'static str> {
    match err {
        FileError::Read { source, .. } if source.kind() == ErrorKind::NotFound => Some(
            "check the path: `pawl run -o FILE` writes a run file, and `pawl ratchet --accept-new RUN` \
             creates the baseline",
        ),
        FileError::Parse { .. } | FileError::Schema { .. } | FileError::Invalid { .. } => Some(
            "pawl reads the JSON files it writes itself: run files (`pawl run`), baselines (`pawl \
             ratchet`); `pawl import` turns other tools' results into run files",
        ),
        _ => None,
    }
}

fn cuda_hint(err: &CudaError) -> Option<&'static str> {
    match err {
        CudaError::NoDriver | CudaError::NoGpu(_) => {
            Some("`pawl env` shows what pawl finds on this machine (driver, GPU, NVRTC)")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_cause_the_message_quotes_is_not_repeated() {
        let io = std::io::Error::new(ErrorKind::NotFound, "No such file or directory (os error 2)");
        let err = anyhow::Error::new(SuiteError::Read { path: "pawl.toml".into(), source: io });
        assert_eq!(message(&err), "cannot read pawl.toml: No such file or directory (os error 2)");
        assert!(hint(&err).unwrap().contains("pawl init"));
    }

    #[test]
    fn causes_the_message_does_not_quote_are_kept_in_order() {
        let err = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot write a.json")
            .context("cannot save the run file")
            .unwrap_err();
        assert_eq!(message(&err), "cannot save the run file: cannot write a.json: disk full");
        assert_eq!(hint(&err), None);
    }
}
