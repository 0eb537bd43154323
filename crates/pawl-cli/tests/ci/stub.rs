//! Stubs of the GitHub and GitLab REST endpoints `pawl comment` uses, on loopback, and a catcher
//! that records whatever reaches it.
//!
//! Neither forge can be reached from the machines these tests run on (and a test must not post to
//! one), so the stub plays the endpoints as their documentation describes them:
//!
//! - GitHub: `GET /user` (the authenticated user; 403 `Resource not accessible by integration` for
//!   the Actions `GITHUB_TOKEN`, whose comments are written by `github-actions[bot]`), the issue
//!   comments listed in pages with a `Link: rel="next"` header, created (201) and updated (200).
//! - GitLab: `GET /api/v4/user`, the merge request's notes listed in pages, created and updated
//!   (`PUT`), with the `PRIVATE-TOKEN` header.
//!
//! Refusals play a read-only token (403 on writes) and an edit that is refused. Misbehaviour plays a
//! hostile or broken server: a `Link` header of its choosing, a redirect, an error page echoing the
//! request's headers, a message with line breaks and workflow commands.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// A token that appears nowhere else, so its absence from every output can be checked.
pub const TOKEN: &str = "pawl-test-token-7f3a9c1e55d2";
pub const REPO: &str = "octo/kernels";
pub const PROJECT: &str = "42";
/// The login GitHub gives the Actions token's comments.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// Comments per page: small, so a few comments already make several pages.
const PAGE: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Forge {
    GitHub,
    GitLab,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Comment {
    pub id: u64,
    pub author: String,
    pub body: String,
    /// A GitLab system note ("added 1 commit"), never pawl's.
    pub system: bool,
}

/// How the stub behaves; [`Stub::start`] takes a [`Config::new`] with what a test changes.
#[derive(Clone, Debug)]
pub struct Config {
    pub forge: Forge,
    /// (author, body) of the existing comments, oldest first.
    pub comments: Vec<(String, String)>,
    /// Whether the token may write; false plays a fork's read-only token.
    pub writable: bool,
    /// Whether existing comments may be edited; false refuses every edit with 403.
    pub editable: bool,
    /// Who `GET /user` says the token is; `None` answers 403 as GitHub does for `GITHUB_TOKEN`.
    pub identity: Option<String>,
    /// Sent as the `Link` header of the first page instead of the real next page.
    pub first_link: Option<String>,
    /// Answer the first list request with a redirect here.
    pub redirect_to: Option<String>,
    /// Answer the list request with HTTP 500 and the request's own head as a text body.
    pub echo_headers_in_500: bool,
    /// Answer writes with 403 and this message (for hostile messages).
    pub refusal_message: String,
}

impl Config {
    pub fn new(forge: Forge, comments: &[(&str, &str)]) -> Config {
        Config {
            forge,
            comments: comments.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            writable: true,
            editable: true,
            identity: None,
            first_link: None,
            redirect_to: None,
            echo_headers_in_500: false,
            refusal_message: "Resource not accessible by integration".to_owned(),
        }
    }
}

#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub comments: Vec<Comment>,
    pub requests: Vec<Request>,
}

pub struct Stub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Stub {
    pub fn start(config: Config) -> Stub {
        Stub::on(TcpListener::bind("127.0.0.1:0").unwrap(), config)
    }

    /// A stub on a port `P` for which some port `P0`..`P9` (the decimal digits of `P` and one more)
    /// is free too, with a [`Catcher`] there: an origin whose URL starts with the stub's.
    pub fn start_with_catcher_on_longer_port(config: Config) -> (Stub, Catcher) {
        for port in 2000..6553u16 {
            let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) else { continue };
            for digit in 0..10 {
                if let Ok(catcher) = TcpListener::bind(("127.0.0.1", port * 10 + digit)) {
                    return (Stub::on(listener, config), Catcher::on(catcher));
                }
            }
        }
        panic!("no free pair of ports P and P0..P9 on loopback");
    }

    fn on(listener: TcpListener, config: Config) -> Stub {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let comments = config
            .comments
            .iter()
            .enumerate()
            .map(|(i, (author, body))| Comment {
                id: i as u64 + 1,
                author: author.clone(),
                body: body.clone(),
                system: author == "system",
            })
            .collect();
        let state = Arc::new(Mutex::new(State { config, comments, requests: Vec::new() }));
        let (shared, base) = (state.clone(), url.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &shared, &base);
            }
        });
        Stub { url, state }
    }

    /// The API URL pawl is given: the stub itself for GitHub, `/api/v4` on it for GitLab.
    pub fn api_url(&self) -> String {
        match self.state.lock().unwrap().config.forge {
            Forge::GitHub => self.url.clone(),
            Forge::GitLab => format!("{}/api/v4", self.url),
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn comments(&self) -> Vec<Comment> {
        self.state.lock().unwrap().comments.clone()
    }
}

/// A listener that records every request that reaches it, answering an empty list.
pub struct Catcher {
    pub url: String,
    pub received: Arc<Mutex<Vec<String>>>,
}

impl Catcher {
    pub fn start() -> Catcher {
        Catcher::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn on(listener: TcpListener) -> Catcher {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = received.clone();
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let (head, _) = read_head(&stream);
                shared.lock().unwrap().push(head);
                let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]");
            }
        });
        Catcher { url, received }
    }

    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

/// The request line and headers as sent, and the parsed request.
fn read_head(stream: &TcpStream) -> (String, Request) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap_or_default();
    head.push_str(&line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        head.push_str(&header);
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    (head, Request { method, path, headers, body })
}

/// A response: status, extra headers, body.
type Answer = (u16, Vec<String>, String);

fn json_answer(status: u16, value: serde_json::Value) -> Answer {
    (status, vec!["Content-Type: application/json".to_owned()], value.to_string())
}

fn message(status: u16, text: &str) -> Answer {
    json_answer(status, serde_json::json!({ "message": text }))
}

fn serve(mut stream: TcpStream, state: &Mutex<State>, base: &str) {
    let (head, request) = read_head(&stream);
    let mut state = state.lock().unwrap();
    state.requests.push(request.clone());
    let (status, headers, body) = match state.config.forge {
        Forge::GitHub => github(&mut state, &request, &head, base),
        Forge::GitLab => gitlab(&mut state, &request, &head, base),
    };
    drop(state);
    let headers: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Stub\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The page asked for (`page=N` in the query), 1 when none.
fn page_of(path: &str) -> usize {
    path.split(['?', '&']).find_map(|p| p.strip_prefix("page=")).and_then(|p| p.parse().ok()).unwrap_or(1)
}

/// One page of comments, its `Link` header, or the misbehaviour the configuration asks for.
fn list(
    state: &State,
    request: &Request,
    head: &str,
    base: &str,
    render: impl Fn(&Comment) -> serde_json::Value,
) -> Answer {
    let page = page_of(&request.path);
    if page == 1 {
        if let Some(location) = &state.config.redirect_to {
            return (302, vec![format!("Location: {location}")], String::new());
        }
        if state.config.echo_headers_in_500 {
            return (
                500,
                vec!["Content-Type: text/plain".to_owned()],
                format!("upstream failed; your request was:\n{head}"),
            );
        }
    }
    let items: Vec<_> = state.comments.iter().skip((page - 1) * PAGE).take(PAGE).map(render).collect();
    let list_path = request.path.split('?').next().unwrap_or_default();
    let link = match (&state.config.first_link, page) {
        (Some(link), 1) => Some(link.clone()),
        _ => (page * PAGE < state.comments.len())
            .then(|| format!("<{base}{list_path}?per_page=100&page={}>; rel=\"next\"", page + 1)),
    };
    let mut answer = json_answer(200, serde_json::Value::Array(items));
    answer.1.extend(link.map(|l| format!("Link: {l}")));
    answer
}

/// Creates or edits a comment as `author`, or refuses as the configuration says.
fn write(state: &mut State, id: Option<u64>, body: &str, author: &str) -> Result<Comment, Answer> {
    let text = text_of(body);
    if !state.config.writable {
        return Err(message(403, &state.config.refusal_message.clone()));
    }
    match id {
        None => {
            let comment = Comment {
                id: state.comments.len() as u64 + 1,
                author: author.to_owned(),
                body: text,
                system: false,
            };
            state.comments.push(comment.clone());
            Ok(comment)
        }
        Some(_) if !state.config.editable => Err(message(403, "You cannot edit this comment")),
        Some(id) => match state.comments.iter_mut().find(|c| c.id == id) {
            Some(found) => {
                found.body = text;
                Ok(found.clone())
            }
            None => Err(message(404, "Not Found")),
        },
    }
}

fn github(state: &mut State, request: &Request, head: &str, base: &str) -> Answer {
    if request.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return message(401, "Bad credentials");
    }
    let author = state.config.identity.clone().unwrap_or_else(|| ACTIONS_BOT.to_owned());
    let list_path = format!("/repos/{REPO}/issues/7/comments");
    let comment = |c: &Comment| {
        serde_json::json!({
            "id": c.id,
            "body": c.body,
            "user": { "login": c.author, "id": user_id(&c.author), "type": "User" },
            "html_url": format!("https://github.com/{REPO}/pull/7#issuecomment-{}", c.id),
        })
    };
    let path = request.path.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("GET", "/user") => match &state.config.identity {
            Some(login) => {
                json_answer(200, serde_json::json!({ "login": login, "id": user_id(login), "type": "User" }))
            }
            None => message(403, "Resource not accessible by integration"),
        },
        ("GET", p) if p == list_path => list(state, request, head, base, comment),
        ("POST", p) if p == list_path => match write(state, None, &request.body, &author) {
            Ok(c) => json_answer(201, comment(&c)),
            Err(answer) => answer,
        },
        ("PATCH", p) if p.starts_with(&format!("/repos/{REPO}/issues/comments/")) => {
            let id = p.rsplit('/').next().and_then(|id| id.parse().ok());
            match write(state, Some(id.unwrap_or(0)), &request.body, &author) {
                Ok(c) => json_answer(200, comment(&c)),
                Err(answer) => answer,
            }
        }
        _ => message(404, "Not Found"),
    }
}

fn gitlab(state: &mut State, request: &Request, head: &str, base: &str) -> Answer {
    if request.header("private-token") != Some(TOKEN) {
        return message(401, "401 Unauthorized");
    }
    let Some(identity) = state.config.identity.clone() else {
        return message(401, "401 Unauthorized");
    };
    let notes = format!("/api/v4/projects/{PROJECT}/merge_requests/7/notes");
    let note = |c: &Comment| {
        serde_json::json!({
            "id": c.id,
            "body": c.body,
            "author": { "id": user_id(&c.author), "username": c.author },
            "system": c.system,
        })
    };
    let path = request.path.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("GET", "/api/v4/user") => {
            json_answer(200, serde_json::json!({ "id": user_id(&identity), "username": identity }))
        }
        ("GET", p) if p == notes => list(state, request, head, base, note),
        ("POST", p) if p == notes => match write(state, None, &request.body, &identity) {
            Ok(c) => json_answer(201, note(&c)),
            Err(answer) => answer,
        },
        ("PUT", p) if p.starts_with(&format!("{notes}/")) => {
            let id = p.rsplit('/').next().and_then(|id| id.parse().ok());
            match write(state, Some(id.unwrap_or(0)), &request.body, &identity) {
                Ok(c) => json_answer(200, note(&c)),
                Err(answer) => answer,
            }
        }
        _ => message(404, "404 Not Found"),
    }
}

/// A user's numeric id: stable, different for different names.
fn user_id(name: &str) -> u64 {
    name.bytes().fold(1469598103934665603u64, |h, b| (h ^ b as u64).wrapping_mul(1099511628211)) % 1_000_000
}

fn text_of(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    value["body"].as_str().unwrap_or_default().to_owned()
}
