//! An HTTP client for one REST API that carries a secret token.
//!
//! The token goes only to the API's own origin (scheme, host and port, compared exactly as the HTTP
//! client will connect): a `Link: rel="next"` page elsewhere, a URL with user-info in it, and every
//! redirect are refused with an error. The token never appears in any output: [`Secret`] has no
//! `Debug` that shows it, and every error is built from text with the token and any URL user-info
//! taken out, and with the server's own words shortened to one inert line.

use std::fmt;
use std::time::Duration;

use pawl_core::report::escape;
use serde::de::DeserializeOwned;
use ureq::http::{Response, Uri};
use ureq::{Agent, AsSendBody};

use super::ForgeError;

/// The most pages followed: a bound keeps a server that links pages in a circle from looping forever
/// (10,000 comments at 100 a page is beyond any real pull request).
const MAX_PAGES: usize = 100;

/// The most characters of a server's message quoted in an error.
const MESSAGE_CHARS: usize = 300;

/// A token. Its `Debug` shows `***`; [`Secret::redact`] takes it out of any text.
pub struct Secret(String);

impl Secret {
    pub fn new(token: &str) -> Secret {
        Secret(token.to_owned())
    }

    /// `text` with every occurrence of the token replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_owned() } else { text.replace(&self.0, "***") }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where requests may go: scheme, host and port of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http` or `https` URL without user-info; why not, in words.
    pub fn of(url: &str) -> Result<Origin, String> {
        let uri: Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
        let scheme = uri.scheme_str().map(str::to_ascii_lowercase).ok_or("not an absolute URL")?;
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(format!("the scheme `{scheme}` is neither http nor https")),
        };
        let authority = uri.authority().ok_or("no host")?;
        if authority.as_str().contains('@') {
            return Err("it carries user-info (`user:password@`)".to_owned());
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err("no host".to_owned());
        }
        Ok(Origin { scheme, host, port: authority.port_u16().unwrap_or(default_port) })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// How a request authenticates: a header and the token (GitHub: `Authorization: Bearer TOKEN`,
/// GitLab: `PRIVATE-TOKEN: TOKEN`).
#[derive(Debug)]
pub struct Auth {
    pub header: &'static str,
    pub prefix: &'static str,
    pub token: Secret,
}

/// A client of one API at one origin.
#[derive(Debug)]
pub struct Api {
    /// `GitHub` or `GitLab`, for messages.
    forge: &'static str,
    agent: Agent,
    base: String,
    origin: Origin,
    auth: Auth,
    /// Headers every request carries (GitHub's media type and API version).
    headers: Vec<(&'static str, &'static str)>,
}

impl Api {
    /// A client of the API at `base_url`, which `setting` names (`GITHUB_API_URL`) in errors.
    pub fn new(
        forge: &'static str,
        setting: &str,
        base_url: &str,
        auth: Auth,
        headers: Vec<(&'static str, &'static str)>,
    ) -> Result<Api, ForgeError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let origin = Origin::of(&base).map_err(|why| {
            ForgeError::Settings(format!(
                "{setting} is `{}`, which pawl cannot send a token to: {why}; set it to the API's \
                 http(s) URL, and the token in its own variable",
                display_url(&auth.token.redact(&base))
            ))
        })?;
        let config = Agent::config_builder()
            .http_status_as_error(false)
            // The token would go along: redirects are refused, not followed.
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("pawl/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Api { forge, agent: Agent::new_with_config(config), base, origin, auth, headers })
    }

    /// The URL of `path` (`/repos/…`) under the API.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every item of a list, following `Link: rel="next"` pages within the API's origin.
    pub fn get_all<T: DeserializeOwned>(&self, first: String, what: &str) -> Result<Vec<T>, ForgeError> {
        let mut url = first;
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self.call("GET", &url, (), what)?;
            let next = next_page(&response);
            let page: Vec<T> = self.read(response, what)?;
            all.extend(page);
            match next {
                Some(next) => url = next,
                None => return Ok(all),
            }
        }
        Err(ForgeError::Answer {
            forge: self.forge,
            what: what.to_owned(),
            detail: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// One JSON answer to a GET.
    pub fn get<T: DeserializeOwned>(&self, url: &str, what: &str) -> Result<T, ForgeError> {
        let response = self.call("GET", url, (), what)?;
        self.read(response, what)
    }

    /// Sends `json` with `method` (`POST`, `PATCH`, `PUT`) and reads the JSON answer.
    pub fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        json: &serde_json::Value,
        what: &str,
    ) -> Result<T, ForgeError> {
        let response = self.call(method, url, json.to_string(), what)?;
        self.read(response, what)
    }

    /// Sends one request, to the API's origin only, with the token.
    fn call(
        &self,
        method: &str,
        url: &str,
        body: impl AsSendBody,
        what: &str,
    ) -> Result<Response<ureq::Body>, ForgeError> {
        match Origin::of(url) {
            Ok(origin) if origin == self.origin => {}
            _ => {
                return Err(ForgeError::Origin {
                    forge: self.forge,
                    what: what.to_owned(),
                    url: self.clean(url),
                    api: self.origin.to_string(),
                });
            }
        }
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        if method != "GET" {
            request = request.header("Content-Type", "application/json");
        }
        let auth = format!("{}{}", self.auth.prefix, self.auth.token.0);
        let request = request.header(self.auth.header, auth).body(body).map_err(|e| ForgeError::Answer {
            forge: self.forge,
            what: what.to_owned(),
            detail: self.clean(&e.to_string()),
        })?;
        self.agent.run(request).map_err(|e| ForgeError::Transport {
            forge: self.forge,
            what: what.to_owned(),
            url: self.clean(url),
            detail: self.clean(&e.to_string()),
        })
    }

    /// Reads a 2xx answer as JSON; anything else becomes an error carrying the server's message.
    fn read<T: DeserializeOwned>(
        &self,
        mut response: Response<ureq::Body>,
        what: &str,
    ) -> Result<T, ForgeError> {
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("");
            return Err(ForgeError::Redirect {
                forge: self.forge,
                what: what.to_owned(),
                status,
                location: self.clean(location),
            });
        }
        let text = response.body_mut().read_to_string().map_err(|e| ForgeError::Answer {
            forge: self.forge,
            what: what.to_owned(),
            detail: format!("cannot read the body: {}", self.clean(&e.to_string())),
        })?;
        if !(200..300).contains(&status) {
            #[derive(serde::Deserialize)]
            struct Message {
                message: serde_json::Value,
            }
            let message = match serde_json::from_str::<Message>(&text) {
                Ok(Message { message: serde_json::Value::String(m) }) => m,
                Ok(Message { message }) => message.to_string(),
                Err(_) => text,
            };
            let (forge, what, message) = (self.forge, what.to_owned(), self.clean(&message));
            return Err(match status {
                401 | 403 | 404 => ForgeError::Refused { forge, what, status, message },
                _ => ForgeError::Status { forge, what, status, message },
            });
        }
        serde_json::from_str(&text).map_err(|e| ForgeError::Answer {
            forge: self.forge,
            what: what.to_owned(),
            detail: self.clean(&e.to_string()),
        })
    }

    /// Text from a server or a URL, safe to put in an error: the token and URL user-info taken out
    /// (before shortening, so no piece of the token survives a cut), at most [`MESSAGE_CHARS`]
    /// characters, on one line with nothing a terminal or a CI runner would act on.
    fn clean(&self, text: &str) -> String {
        let redacted = display_url(&self.auth.token.redact(text));
        let mut short: String = redacted.chars().take(MESSAGE_CHARS).collect();
        if short.len() < redacted.len() {
            short.push('…');
        }
        escape::terminal(&short).into_owned()
    }
}

/// `text` with the user-info of every URL in it (`https://user:password@host`) replaced by `***`.
pub fn display_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after.find(['/', '?', '#', ' ', '>', '\n']).unwrap_or(after.len());
        match after[..authority_end].rfind('@') {
            Some(user_end) => {
                out.push_str("***");
                out.push_str(&after[user_end..authority_end]);
            }
            None => out.push_str(&after[..authority_end]),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

/// The `rel="next"` target of a `Link` header: `<https://…?page=2>; rel="next", <…>; rel="last"`.
fn next_page<B>(response: &Response<B>) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_link(link: &str) -> Response<()> {
        Response::builder().header("Link", link).body(()).unwrap()
    }

    #[test]
    fn next_page_is_read_from_the_link_header() {
        let link = r#"<https://api.github.com/repositories/1/issues/2/comments?page=2>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?page=5>; rel="last""#;
        assert_eq!(
            next_page(&with_link(link)).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?page=2")
        );
        let last = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#;
        assert_eq!(next_page(&with_link(last)), None);
        assert_eq!(next_page(&Response::builder().body(()).unwrap()), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port_exactly() {
        let api = Origin::of("https://api.github.com").unwrap();
        assert_eq!(Origin::of("https://API.github.com:443/repos/x?page=2").unwrap(), api);
        for other in [
            "https://api.github.com.evil.example/repos",
            "http://api.github.com/repos",
            "https://api.github.com:8443/repos",
            "https://evil.example/api.github.com",
        ] {
            assert_ne!(Origin::of(other).unwrap(), api, "{other}");
        }
        let local = Origin::of("http://127.0.0.1:1800").unwrap();
        assert_ne!(Origin::of("http://127.0.0.1:18001/x").unwrap(), local);
        assert!(Origin::of("http://127.0.0.1:1800@127.0.0.1:18004/x").unwrap_err().contains("user-info"));
        assert!(Origin::of("/relative?page=2").is_err());
        assert!(Origin::of("file:///etc/passwd").is_err());
    }

    #[test]
    fn the_token_never_shows() {
        let auth = Auth { header: "Authorization", prefix: "Bearer ", token: Secret::new("s3cr3t-token") };
        let api = Api::new("GitHub", "GITHUB_API_URL", "http://127.0.0.1:9", auth, Vec::new()).unwrap();
        assert!(!format!("{api:?}").contains("s3cr3t"), "{api:?}");
        // The cut at 300 characters falls inside the token: redacting after it would leave a piece.
        let echoed = format!("{}Authorization: Bearer s3cr3t-token\r\n::set-env name=X::1", "x".repeat(270));
        let cleaned = api.clean(&echoed);
        assert!(!cleaned.contains("s3cr3t") && !cleaned.contains("s3c"), "no piece of it either: {cleaned}");
        assert!(!cleaned.contains('\n') && !cleaned.contains('\r'), "{cleaned}");
    }

    #[test]
    fn user_info_is_taken_out_of_urls() {
        assert_eq!(
            display_url("at https://me:pw@host:1/x and http://h/y"),
            "at https://***@host:1/x and http://h/y"
        );
        assert_eq!(display_url("<http://a:1@b:2/x>; rel"), "<http://***@b:2/x>; rel");
    }

    #[test]
    fn an_api_url_with_credentials_is_refused_without_quoting_them() {
        let auth = Auth { header: "Authorization", prefix: "Bearer ", token: Secret::new("t") };
        let err =
            Api::new("GitHub", "GITHUB_API_URL", "https://me:pw@api.example", auth, Vec::new()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("GITHUB_API_URL") && !text.contains("pw@"), "{text}");
    }
}
