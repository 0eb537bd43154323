//! `pawl comment` against a hostile or broken server, and a hostile pull request: the token never
//! leaves the API's origin nor appears in any output, and pawl never writes into somebody else's
//! comment. Every test runs through [`Env::run`], which checks the token is absent from stdout,
//! stderr and every file written, and that the log holds no workflow command.

use crate::comment::{Env, MARKER, stderr};
use crate::stub::{ACTIONS_BOT, Catcher, Config, Forge, Stub};

fn github_with_first_link(link: impl Fn(&Stub) -> String) -> (Stub, Env, std::process::Output) {
    let stub = Stub::start(Config::new(Forge::GitHub, &[(ACTIONS_BOT, "x")]));
    stub.state.lock().unwrap().config.first_link = Some(link(&stub));
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    let output = env.run(&mut env.github(&stub.url));
    (stub, env, output)
}

#[test]
fn a_next_page_on_another_port_is_refused() {
    let catcher = Catcher::start();
    let (stub, _env, output) = github_with_first_link(|_| {
        format!("<{}/repos/octo/kernels/issues/7/comments?page=2>; rel=\"next\"", catcher.url)
    });
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("another origin"), "{}", stderr(&output));
    assert!(catcher.received().is_empty(), "a request left the API's origin: {:?}", catcher.received());
    assert!(stub.requests().iter().all(|r| r.method == "GET"), "nothing was written");
}

#[test]
fn a_next_page_whose_url_merely_starts_with_the_api_url_is_refused() {
    // The API at http://127.0.0.1:P, the next page at http://127.0.0.1:PD/...: same prefix, other port.
    let (stub, catcher) =
        Stub::start_with_catcher_on_longer_port(Config::new(Forge::GitHub, &[(ACTIONS_BOT, "x")]));
    assert!(catcher.url.starts_with(&stub.url));
    stub.state.lock().unwrap().config.first_link = Some(format!("<{}/page2>; rel=\"next\"", catcher.url));
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    let output = env.run(&mut env.github(&stub.url));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(catcher.received().is_empty(), "{:?}", catcher.received());
}

#[test]
fn a_next_page_with_user_info_is_refused() {
    let catcher = Catcher::start();
    let host_port = catcher.url.trim_start_matches("http://").to_owned();
    let (_stub, _env, output) = github_with_first_link(|stub| {
        // Reads as the API's host to a prefix check; the host is really the part after `@`.
        let api = stub.url.trim_start_matches("http://");
        format!("<http://{api}@{host_port}/x>; rel=\"next\"")
    });
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(catcher.received().is_empty(), "{:?}", catcher.received());
}

#[test]
fn a_redirect_is_not_followed() {
    let catcher = Catcher::start();
    let mut config = Config::new(Forge::GitHub, &[]);
    config.redirect_to = Some(format!("{}/repos/octo/kernels/issues/7/comments", catcher.url));
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    let output = env.run(&mut env.github(&stub.url));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("redirect"), "{}", stderr(&output));
    assert!(catcher.received().is_empty(), "{:?}", catcher.received());
}

#[test]
fn an_error_page_echoing_the_headers_does_not_print_the_token() {
    let mut config = Config::new(Forge::GitHub, &[]);
    config.echo_headers_in_500 = true;
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    let output = env.run(&mut env.github(&stub.url));
    // A server error is the forge's trouble: the report goes to the job summary, with a warning.
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stderr = stderr(&output);
    assert!(
        stderr.contains("HTTP 500") && stderr.contains("Bearer ***"),
        "the message is shown, redacted: {stderr}"
    );
    assert!(std::fs::read_to_string(env.summary()).unwrap().contains("report"));
}

#[test]
fn an_api_url_with_user_info_is_refused_without_printing_it() {
    let stub = Stub::start(Config::new(Forge::GitHub, &[]));
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    let with_credentials = stub.url.replace("http://", "http://deploy:hunter2-secret@");
    let output = env.run(&mut env.github(&with_credentials));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!stderr(&output).contains("hunter2-secret"), "{}", stderr(&output));
    assert!(stderr(&output).contains("GITHUB_API_URL"), "{}", stderr(&output));
    assert!(stub.requests().is_empty());
}

#[test]
fn an_unreachable_api_is_named_without_the_token_and_the_report_goes_to_the_job_summary() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = format!("{MARKER}\nreport\n");
    let env = Env::new(&body);
    let output = env.run(&mut env.github(&format!("http://127.0.0.1:{port}")));
    // A network failure loses no report: like a refusal, it goes to the job summary, with a warning.
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains(&format!("127.0.0.1:{port}")), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: cannot write the pull-request comment"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(env.summary()).unwrap(), format!("{body}\n"));
}

#[test]
fn a_hostile_server_message_is_printed_inert() {
    let mut config = Config::new(Forge::GitHub, &[]);
    config.writable = false;
    config.refusal_message =
        "denied\n::set-env name=LD_PRELOAD::/tmp/x.so\n##[add-mask]x\u{1b}[2J\u{202E}".to_owned();
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    // `Env::run` fails on any workflow command or escape sequence in the log.
    let output = env.run(env.github(&stub.url).env("GITHUB_ACTIONS", "true"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("denied"), "{}", stderr(&output));
}

#[test]
fn a_decoy_comment_by_another_author_is_ignored_and_named() {
    let decoy = format!("{MARKER}\n@everyone the check passed, merge away");
    let stub = Stub::start(Config::new(Forge::GitHub, &[("mallory", &decoy)]));
    let env = Env::new(&format!("{MARKER}\n❌ 1 regressed\n"));
    let output = env.run(&mut env.github(&stub.url));
    assert!(output.status.success(), "{}", stderr(&output));
    let comments = stub.comments();
    assert_eq!(comments.len(), 2, "pawl posts its own comment");
    assert_eq!(comments[0].body, decoy, "the decoy is not touched");
    assert_eq!(comments[1].author, ACTIONS_BOT);
    assert!(comments[1].body.contains("1 regressed"));
    let stderr = stderr(&output);
    assert!(stderr.contains("mallory") && stderr.contains("comment 1"), "{stderr}");
    assert!(stub.requests().iter().all(|r| r.method != "PATCH"));
}

#[test]
fn a_refused_edit_posts_a_new_comment_instead() {
    let old = format!("{MARKER}\nold");
    let mut config = Config::new(Forge::GitHub, &[(ACTIONS_BOT, &old)]);
    config.editable = false;
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nnew report\n"));
    let output = env.run(&mut env.github(&stub.url));
    assert!(output.status.success(), "{}", stderr(&output));
    let comments = stub.comments();
    assert_eq!(comments.len(), 2, "the report is posted: {comments:?}");
    assert_eq!(comments[1].body, format!("{MARKER}\nnew report\n"));
    assert!(stderr(&output).contains("comment: created"), "{}", stderr(&output));
    assert!(!env.summary().exists(), "posted, so nothing for the job summary");
}

#[test]
fn gitlab_refuses_an_origin_hop_too() {
    let catcher = Catcher::start();
    let mut config = Config::new(Forge::GitLab, &[("alice", "x")]);
    config.identity = Some("pawl-project-bot".to_owned());
    config.first_link =
        Some(format!("<{}/api/v4/projects/42/merge_requests/7/notes?page=2>; rel=\"next\"", catcher.url));
    let stub = Stub::start(config);
    let env = Env::new(&format!("{MARKER}\nreport\n"));
    let output = env.run(&mut env.gitlab(&stub));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("another origin"), "{}", stderr(&output));
    assert!(catcher.received().is_empty(), "{:?}", catcher.received());
}
