//! GitHub's REST API: the authenticated user, and an issue's (pull request's) comments.
//!
//! Settings are the variables GitHub Actions sets: `GITHUB_API_URL` (GitHub Enterprise has its
//! own), `GITHUB_REPOSITORY` (`owner/name`) and the `GITHUB_TOKEN` the workflow passes in.

use pawl_core::report::ReportOptions;
use serde::Deserialize;

use super::api::{Api, Auth, Secret};
use super::{Author, Forge, ForgeError, Note, var};

/// GitHub's public API, when `GITHUB_API_URL` is not set.
const DEFAULT_API_URL: &str = "https://api.github.com";

/// The most comments GitHub returns per page.
const PER_PAGE: u32 = 100;

/// GitHub's limit on a comment's body, in characters.
pub const COMMENT_LIMIT: usize = ReportOptions::GITHUB_COMMENT_LIMIT;

/// Who GitHub says wrote what a workflow posts with its `GITHUB_TOKEN`. An installation token cannot
/// ask `GET /user` who it is (HTTP 403), so this is who pawl is then, unless `--author` says.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

#[derive(Debug)]
pub struct GitHub {
    api: Api,
    repository: String,
    author: Option<String>,
}

#[derive(Deserialize)]
struct User {
    login: String,
    id: u64,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    /// `null` for a deleted account.
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    html_url: Option<String>,
}

impl From<Comment> for Note {
    fn from(c: Comment) -> Note {
        let author = match c.user {
            Some(user) => Author { id: Some(user.id), login: user.login },
            None => Author { id: None, login: "ghost".to_owned() },
        };
        Note { id: c.id, body: c.body.unwrap_or_default(), author, system: false, url: c.html_url }
    }
}

impl GitHub {
    /// A client from GitHub Actions' variables. No token is [`ForgeError::Refused`]: the job may not
    /// write (the caller falls back); no repository or a bad API URL is a settings error.
    pub fn from_env(author: Option<&str>) -> Result<GitHub, ForgeError> {
        let repository = var("GITHUB_REPOSITORY").ok_or_else(|| {
            ForgeError::Settings(
                "GITHUB_REPOSITORY is not set; GitHub Actions sets it, elsewhere set it to OWNER/NAME".into(),
            )
        })?;
        let parts: Vec<&str> = repository.split('/').collect();
        let plain =
            |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if parts.len() != 2 || !parts.iter().all(|p| plain(p)) {
            return Err(ForgeError::Settings(format!(
                "GITHUB_REPOSITORY is `{}`; expected OWNER/NAME",
                pawl_core::report::escape::terminal(&repository)
            )));
        }
        let token = var("GITHUB_TOKEN").ok_or_else(|| ForgeError::Refused {
            forge: "GitHub",
            what: "comment".into(),
            status: 401,
            message: "GITHUB_TOKEN is not set; pass `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` in the \
                      step's `env`"
                .into(),
        })?;
        let api_url = var("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let auth = Auth { header: "Authorization", prefix: "Bearer ", token: Secret::new(&token) };
        let headers = vec![("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")];
        let api = Api::new("GitHub", "GITHUB_API_URL", &api_url, auth, headers)?;
        Ok(GitHub { api, repository, author: author.map(str::to_owned) })
    }
}

impl Forge for GitHub {
    fn identity(&self) -> Result<Author, ForgeError> {
        if let Some(login) = &self.author {
            return Ok(Author { id: None, login: login.clone() });
        }
        match self.api.get::<User>(&self.api.url("/user"), "find the token's user") {
            Ok(user) => Ok(Author { id: Some(user.id), login: user.login }),
            // An installation token (`GITHUB_TOKEN`, a GitHub App's) may not read `/user`.
            Err(ForgeError::Refused { status: 403, .. }) => {
                Ok(Author { id: None, login: ACTIONS_BOT.to_owned() })
            }
            Err(err) => Err(err),
        }
    }

    fn notes(&self, number: u64) -> Result<Vec<Note>, ForgeError> {
        let url =
            self.api.url(&format!("/repos/{}/issues/{number}/comments?per_page={PER_PAGE}", self.repository));
        let comments: Vec<Comment> = self.api.get_all(url, &format!("list the comments of #{number}"))?;
        Ok(comments.into_iter().map(Note::from).collect())
    }

    fn create(&self, number: u64, body: &str) -> Result<Note, ForgeError> {
        let url = self.api.url(&format!("/repos/{}/issues/{number}/comments", self.repository));
        let json = serde_json::json!({ "body": body });
        self.api.send::<Comment>("POST", &url, &json, &format!("comment on #{number}")).map(Note::from)
    }

    fn update(&self, _number: u64, id: u64, body: &str) -> Result<Note, ForgeError> {
        let url = self.api.url(&format!("/repos/{}/issues/comments/{id}", self.repository));
        let json = serde_json::json!({ "body": body });
        self.api.send::<Comment>("PATCH", &url, &json, &format!("update comment {id}")).map(Note::from)
    }
}
