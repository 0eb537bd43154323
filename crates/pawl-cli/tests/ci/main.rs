//! Tests of pawl's CI commands: the sticky PR comment against a stub of GitHub's REST API, baseline
//! commits in a real git repository, concurrent baseline updates, `pawl profile` with a stand-in for
//! Nsight Compute, and the workflow templates checked against the CLI.

mod baseline_lock;
mod comment;
mod comment_attacks;
mod cost;
mod git_commit;
mod hostile;
mod profile;
mod runs;
mod stub;
mod templates;
