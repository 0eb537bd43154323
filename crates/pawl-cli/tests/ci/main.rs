//! Tests of pawl's CI commands: the sticky PR comment against a stub of GitHub's REST API, baseline
//! commits in a real git repository, `pawl profile` with a stand-in for Nsight Compute, and the workflow
//! templates checked against the CLI.

mod comment;
mod git_commit;
mod profile;
mod stub;
mod templates;
