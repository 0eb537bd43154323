//! The forges pawl comments on: GitHub (pull-request comments) and GitLab (merge-request notes),
//! behind one small interface, [`Forge`]: who am I, list the notes, create one, update one.
//!
//! Both speak through [`api::Api`], which keeps the token to the API's origin and out of every
//! message. Settings come from the variables each CI sets (see [`github`] and [`gitlab`]).

mod api;
mod github;
mod gitlab;

use clap::ValueEnum;

/// Which forge, as `--forge` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ForgeKind {
    Github,
    Gitlab,
}

impl ForgeKind {
    /// `--forge`, else GitLab inside GitLab CI (`GITLAB_CI=true`), else GitHub.
    pub fn detect(flag: Option<ForgeKind>) -> ForgeKind {
        flag.unwrap_or_else(|| {
            if std::env::var("GITLAB_CI").is_ok_and(|v| v == "true") {
                ForgeKind::Gitlab
            } else {
                ForgeKind::Github
            }
        })
    }

    /// The longest body a comment may have, in characters.
    pub fn limit(self) -> usize {
        match self {
            ForgeKind::Github => github::COMMENT_LIMIT,
            ForgeKind::Gitlab => gitlab::NOTE_LIMIT,
        }
    }

    /// What a comment on a change is called there, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            ForgeKind::Github => "pull-request comment",
            ForgeKind::Gitlab => "merge-request note",
        }
    }

    /// A client from the CI's variables; `author` names pawl's account where the API cannot tell it.
    pub fn client(self, author: Option<&str>) -> Result<Box<dyn Forge>, ForgeError> {
        Ok(match self {
            ForgeKind::Github => Box::new(github::GitHub::from_env(author)?),
            ForgeKind::Gitlab => Box::new(gitlab::GitLab::from_env(author)?),
        })
    }
}

/// Who wrote a note: the forge's numeric user id where known, and the login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub id: Option<u64>,
    pub login: String,
}

impl Author {
    /// The same account: by id when both are known (logins can be renamed), else by login.
    pub fn is(&self, other: &Author) -> bool {
        match (self.id, other.id) {
            (Some(a), Some(b)) => a == b,
            _ => self.login.eq_ignore_ascii_case(&other.login),
        }
    }
}

/// A comment or note on a pull or merge request.
#[derive(Clone, Debug)]
pub struct Note {
    pub id: u64,
    pub body: String,
    pub author: Author,
    /// Written by the forge itself ("added 1 commit"), never by pawl.
    pub system: bool,
    /// Where to see it, when the forge says.
    pub url: Option<String>,
}

/// The notes of one pull or merge request, and pawl's identity there.
pub trait Forge {
    /// The account pawl writes as: the token's user, or the Actions bot for `GITHUB_TOKEN`.
    fn identity(&self) -> Result<Author, ForgeError>;
    /// Every note of change `number`, oldest first.
    fn notes(&self, number: u64) -> Result<Vec<Note>, ForgeError>;
    fn create(&self, number: u64, body: &str) -> Result<Note, ForgeError>;
    fn update(&self, number: u64, id: u64, body: &str) -> Result<Note, ForgeError>;
}

/// Why a request to a forge did not do what was asked. Every text field is already cleaned of the
/// token and URL user-info, and of anything a terminal or CI runner would act on.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("{0}")]
    Settings(String),
    /// HTTP 401, 403 or 404: the token may not do this (a pull request from a fork gets a read-only
    /// token), or cannot see the change.
    #[error("{forge} refused to {what} (HTTP {status}): {message}")]
    Refused { forge: &'static str, what: String, status: u16, message: String },
    #[error("{forge} could not {what} (HTTP {status}): {message}")]
    Status { forge: &'static str, what: String, status: u16, message: String },
    #[error("cannot reach {forge} to {what} at {url}: {detail}")]
    Transport { forge: &'static str, what: String, url: String, detail: String },
    #[error("{forge}'s answer to `{what}` is not what was expected: {detail}")]
    Answer { forge: &'static str, what: String, detail: String },
    #[error(
        "{forge} sent pawl to {url} to {what}, another origin than the API's ({api}); the token goes \
         only to the API's own origin, so pawl stops here"
    )]
    Origin { forge: &'static str, what: String, url: String, api: String },
    #[error(
        "{forge} answered the request to {what} with a redirect (HTTP {status}) to `{location}`; pawl \
         does not follow redirects, since the token would go along: set the API URL to where the API is"
    )]
    Redirect { forge: &'static str, what: String, status: u16, location: String },
}

impl ForgeError {
    /// Whether the token lacks the right to do this, as opposed to a fault that a retry or a fix of
    /// the settings could cure.
    pub fn is_refused(&self) -> bool {
        matches!(self, ForgeError::Refused { .. })
    }

    /// Whether the forge could not be reached or was failing (a network error, HTTP 5xx): the comment
    /// may go through on the next run, and the report must not be lost meanwhile.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ForgeError::Transport { .. } => true,
            ForgeError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A variable of the environment, unless unset or blank.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
