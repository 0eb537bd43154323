//! A stub of the three GitHub REST endpoints `pawl comment` uses, on loopback.
//!
//! GitHub itself cannot be reached from the machines these tests run on (and a test must not post to
//! it), so this plays the endpoints as GitHub documents them: list an issue's comments in pages with a
//! `Link: rel="next"` header, create a comment (201), update a comment (200), and refuse writes with
//! 403 `Resource not accessible by integration`, which is what a fork's read-only token gets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

pub const TOKEN: &str = "stub-token";
pub const REPO: &str = "octo/kernels";

/// Comments per page: small, so a few comments already make several pages.
const PAGE: usize = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct State {
    /// (id, body) of the pull request's comments, oldest first.
    pub comments: Vec<(u64, String)>,
    /// Whether the token may write; false plays a fork's read-only token.
    pub writable: bool,
    pub requests: Vec<Request>,
}

pub struct Stub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Stub {
    pub fn start(comments: &[&str], writable: bool) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            comments: comments.iter().enumerate().map(|(i, b)| (i as u64 + 1, b.to_string())).collect(),
            writable,
            requests: Vec::new(),
        }));
        let (shared, base) = (state.clone(), url.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &shared, &base);
            }
        });
        Stub { url, state }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn comments(&self) -> Vec<(u64, String)> {
        self.state.lock().unwrap().comments.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>, base: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let (mut length, mut authorized) = (0, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "authorization" => authorized = value.trim() == format!("Bearer {TOKEN}"),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();

    let mut state = state.lock().unwrap();
    state.requests.push(Request { method: method.clone(), path: path.clone(), body: body.clone() });
    let list = format!("/repos/{REPO}/issues/7/comments");
    let (status, link, answer) = if !authorized {
        (401, None, r#"{"message":"Bad credentials"}"#.to_owned())
    } else if method == "GET" && path.starts_with(&list) {
        let page: usize = path.split("&page=").nth(1).and_then(|p| p.parse().ok()).unwrap_or(1);
        let items: Vec<_> =
            state.comments.iter().skip((page - 1) * PAGE).take(PAGE).map(|(id, b)| comment(*id, b)).collect();
        let link = (page * PAGE < state.comments.len())
            .then(|| format!("<{base}{list}?per_page=100&page={}>; rel=\"next\"", page + 1));
        (200, link, serde_json::Value::Array(items).to_string())
    } else if !state.writable {
        (403, None, r#"{"message":"Resource not accessible by integration"}"#.to_owned())
    } else if method == "POST" && path == list {
        let text = text_of(&body);
        let id = state.comments.len() as u64 + 1;
        state.comments.push((id, text.clone()));
        (201, None, comment(id, &text).to_string())
    } else if let Some(id) =
        path.strip_prefix(&format!("/repos/{REPO}/issues/comments/")).filter(|_| method == "PATCH")
    {
        let id: u64 = id.parse().unwrap();
        let text = text_of(&body);
        match state.comments.iter_mut().find(|(i, _)| *i == id) {
            Some(found) => {
                found.1 = text.clone();
                (200, None, comment(id, &text).to_string())
            }
            None => (404, None, r#"{"message":"Not Found"}"#.to_owned()),
        }
    } else {
        (404, None, r#"{"message":"Not Found"}"#.to_owned())
    };
    drop(state);
    let mut stream = stream;
    let link = link.map(|l| format!("Link: {l}\r\n")).unwrap_or_default();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{link}Connection: close\r\n\r\n{answer}",
        answer.len()
    );
}

fn comment(id: u64, body: &str) -> serde_json::Value {
    serde_json::json!({ "id": id, "body": body, "html_url": format!("https://github.com/{REPO}/pull/7#issuecomment-{id}") })
}

fn text_of(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["body"].as_str().unwrap().to_owned()
}
