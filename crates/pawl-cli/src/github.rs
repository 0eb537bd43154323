//! A small client for the three GitHub REST endpoints the sticky pull-request comment needs: list an
//! issue's comments (every page), create a comment, update a comment.
//!
//! Settings come from the variables GitHub Actions sets: `GITHUB_API_URL` (GitHub Enterprise has its
//! own), `GITHUB_REPOSITORY` (`owner/name`) and the `GITHUB_TOKEN` the workflow passes in.

use std::time::Duration;

use serde::Deserialize;
use ureq::Agent;
use ureq::http::Response;

/// GitHub's public API, when `GITHUB_API_URL` is not set.
const DEFAULT_API_URL: &str = "https://api.github.com";

/// The most comments GitHub returns per page.
const PER_PAGE: u32 = 100;

/// The most pages followed: 10,000 comments on one pull request is beyond any real one, and a bound
/// keeps a server that links pages in a circle from looping forever.
const MAX_PAGES: usize = 100;

/// Why a request to GitHub did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("{0}")]
    Settings(String),
    /// HTTP 403 or 404 on a request that needs write access: the token may not write here (a pull request
    /// from a fork gets a read-only token), or the pull request does not exist.
    #[error("GitHub refused to {what} (HTTP {status}): {message}")]
    Refused { what: String, status: u16, message: String },
    #[error("GitHub could not {what} (HTTP {status}): {message}")]
    Status { what: String, status: u16, message: String },
    #[error("cannot reach GitHub to {what} at {url}: {source}")]
    Transport { what: String, url: String, source: ureq::Error },
    #[error("GitHub's answer to `{what}` is not what was expected: {detail}")]
    Answer { what: String, detail: String },
}

impl GitHubError {
    /// Whether the token lacks the right to do this (or cannot see the pull request), as opposed to a
    /// fault that a retry or a fix of the settings could cure.
    pub fn is_refused(&self) -> bool {
        matches!(self, GitHubError::Refused { .. })
    }
}

/// One issue or pull-request comment, the fields pawl reads.
#[derive(Clone, Debug, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// A client for one repository.
#[derive(Debug)]
pub struct GitHub {
    agent: Agent,
    api_url: String,
    repository: String,
    token: String,
}

impl GitHub {
    /// A client from GitHub Actions' variables. No token is [`GitHubError::Refused`]: the job simply may
    /// not write (the caller falls back); no repository is a settings error.
    pub fn from_env() -> Result<GitHub, GitHubError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let repository = var("GITHUB_REPOSITORY").ok_or_else(|| {
            GitHubError::Settings(
                "GITHUB_REPOSITORY is not set; GitHub Actions sets it, elsewhere set it to OWNER/NAME".into(),
            )
        })?;
        if repository.split('/').filter(|part| !part.is_empty()).count() != 2 {
            return Err(GitHubError::Settings(format!(
                "GITHUB_REPOSITORY is `{repository}`; expected OWNER/NAME"
            )));
        }
        let token = var("GITHUB_TOKEN").ok_or_else(|| GitHubError::Refused {
            what: "comment".into(),
            status: 401,
            message: "GITHUB_TOKEN is not set; pass `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` in the \
                      step's `env`"
                .into(),
        })?;
        let api_url = var("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        Ok(GitHub::new(&api_url, &repository, &token))
    }

    pub fn new(api_url: &str, repository: &str, token: &str) -> GitHub {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("pawl/", env!("CARGO_PKG_VERSION")))
            .build();
        GitHub {
            agent: Agent::new_with_config(config),
            api_url: api_url.trim_end_matches('/').to_owned(),
            repository: repository.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Every comment of issue or pull request `number`, following the `Link: rel="next"` pages.
    pub fn comments(&self, number: u64) -> Result<Vec<Comment>, GitHubError> {
        let what = format!("list the comments of #{number}");
        let mut url = format!(
            "{}/repos/{}/issues/{number}/comments?per_page={PER_PAGE}",
            self.api_url, self.repository
        );
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let request = self.authorize(self.agent.get(&url));
            let response = request.call().map_err(|source| GitHubError::Transport {
                what: what.clone(),
                url: url.clone(),
                source,
            })?;
            let next = next_page(&response);
            let page: Vec<Comment> = read_json(response, &what)?;
            all.extend(page);
            match next {
                // The token goes along, so it only goes to the API it was meant for.
                Some(next) if next.starts_with(&self.api_url) => url = next,
                Some(next) => {
                    return Err(GitHubError::Answer {
                        what,
                        detail: format!("the next page is at {next}, outside {}", self.api_url),
                    });
                }
                None => return Ok(all),
            }
        }
        Err(GitHubError::Answer { what, detail: format!("more than {MAX_PAGES} pages of comments") })
    }

    /// Posts a new comment on issue or pull request `number`.
    pub fn create_comment(&self, number: u64, body: &str) -> Result<Comment, GitHubError> {
        let url = format!("{}/repos/{}/issues/{number}/comments", self.api_url, self.repository);
        self.send_comment(self.agent.post(&url), url, format!("comment on #{number}"), body)
    }

    /// Replaces the body of comment `id`.
    pub fn update_comment(&self, id: u64, body: &str) -> Result<Comment, GitHubError> {
        let url = format!("{}/repos/{}/issues/comments/{id}", self.api_url, self.repository);
        self.send_comment(self.agent.patch(&url), url, format!("update comment {id}"), body)
    }

    /// Sends a comment body (create or update) and reads the comment GitHub answers with.
    fn send_comment(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
        url: String,
        what: String,
        body: &str,
    ) -> Result<Comment, GitHubError> {
        let request = self.authorize(request).header("Content-Type", "application/json");
        let response = request.send(body_json(body)).map_err(|source| GitHubError::Transport {
            what: what.clone(),
            url,
            source,
        })?;
        read_json(response, &what)
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        request
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("Authorization", format!("Bearer {}", self.token))
    }
}

fn body_json(body: &str) -> String {
    serde_json::json!({ "body": body }).to_string()
}

/// Reads a 2xx answer as JSON; anything else becomes an error carrying GitHub's `message`.
fn read_json<T: serde::de::DeserializeOwned>(
    mut response: Response<ureq::Body>,
    what: &str,
) -> Result<T, GitHubError> {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|e| GitHubError::Answer {
        what: what.to_owned(),
        detail: format!("cannot read the body: {e}"),
    })?;
    if !(200..300).contains(&status) {
        #[derive(Deserialize)]
        struct Message {
            message: String,
        }
        let message = serde_json::from_str::<Message>(&text)
            .map(|m| m.message)
            .unwrap_or_else(|_| text.chars().take(200).collect());
        let what = what.to_owned();
        return Err(match status {
            403 | 404 => GitHubError::Refused { what, status, message },
            _ => GitHubError::Status { what, status, message },
        });
    }
    serde_json::from_str(&text)
        .map_err(|e| GitHubError::Answer { what: what.to_owned(), detail: e.to_string() })
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
}
