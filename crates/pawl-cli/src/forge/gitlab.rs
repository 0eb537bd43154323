//! GitLab's REST API (v4): the authenticated user, and a merge request's notes.
//!
//! Settings are the variables GitLab CI sets, `CI_API_V4_URL` and `CI_PROJECT_ID`, and the token in
//! `PAWL_GITLAB_TOKEN`: a project (or personal) access token with the `api` scope, sent as
//! `PRIVATE-TOKEN`. The job's own `CI_JOB_TOKEN` cannot write merge-request notes (GitLab opens only
//! a few endpoints to it), so pawl does not use it.

use serde::Deserialize;

use super::api::{Api, Auth, Secret};
use super::{Author, Forge, ForgeError, Note, var};

/// GitLab's limit on a note's body, in characters.
pub const NOTE_LIMIT: usize = 1_000_000;

/// The most notes GitLab returns per page.
const PER_PAGE: u32 = 100;

#[derive(Debug)]
pub struct GitLab {
    api: Api,
    /// The project id, or its path with `/` encoded, as it goes in a URL.
    project: String,
    author: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    username: String,
}

#[derive(Deserialize)]
struct NoteJson {
    id: u64,
    #[serde(default)]
    body: String,
    author: User,
    #[serde(default)]
    system: bool,
}

impl From<NoteJson> for Note {
    fn from(n: NoteJson) -> Note {
        let author = Author { id: Some(n.author.id), login: n.author.username };
        Note { id: n.id, body: n.body, author, system: n.system, url: None }
    }
}

impl GitLab {
    pub fn from_env(author: Option<&str>) -> Result<GitLab, ForgeError> {
        let api_url = var("CI_API_V4_URL").ok_or_else(|| {
            ForgeError::Settings(
                "CI_API_V4_URL is not set; GitLab CI sets it, elsewhere set it to https://HOST/api/v4".into(),
            )
        })?;
        let project = var("CI_PROJECT_ID").ok_or_else(|| {
            ForgeError::Settings(
                "CI_PROJECT_ID is not set; GitLab CI sets it, elsewhere set it to the project's id".into(),
            )
        })?;
        let token = var("PAWL_GITLAB_TOKEN").ok_or_else(|| ForgeError::Refused {
            forge: "GitLab",
            what: "write a merge-request note".into(),
            status: 401,
            message:
                "PAWL_GITLAB_TOKEN is not set; make it a masked CI/CD variable holding a project access \
                      token with the `api` scope (CI_JOB_TOKEN cannot write merge-request notes)"
                    .into(),
        })?;
        let auth = Auth { header: "PRIVATE-TOKEN", prefix: "", token: Secret::new(&token) };
        let api = Api::new("GitLab", "CI_API_V4_URL", &api_url, auth, Vec::new())?;
        Ok(GitLab { api, project: encode_path_segment(&project), author: author.map(str::to_owned) })
    }

    fn notes_url(&self, number: u64) -> String {
        self.api.url(&format!("/projects/{}/merge_requests/{number}/notes", self.project))
    }
}

impl Forge for GitLab {
    fn identity(&self) -> Result<Author, ForgeError> {
        if let Some(login) = &self.author {
            return Ok(Author { id: None, login: login.clone() });
        }
        let user: User = self.api.get(&self.api.url("/user"), "find the token's user")?;
        Ok(Author { id: Some(user.id), login: user.username })
    }

    fn notes(&self, number: u64) -> Result<Vec<Note>, ForgeError> {
        let url = format!("{}?per_page={PER_PAGE}&sort=asc&order_by=created_at", self.notes_url(number));
        let notes: Vec<NoteJson> = self.api.get_all(url, &format!("list the notes of !{number}"))?;
        Ok(notes.into_iter().map(Note::from).collect())
    }

    fn create(&self, number: u64, body: &str) -> Result<Note, ForgeError> {
        let json = serde_json::json!({ "body": body });
        let what = format!("write a note on !{number}");
        self.api.send::<NoteJson>("POST", &self.notes_url(number), &json, &what).map(Note::from)
    }

    fn update(&self, number: u64, id: u64, body: &str) -> Result<Note, ForgeError> {
        let json = serde_json::json!({ "body": body });
        let url = format!("{}/{id}", self.notes_url(number));
        self.api.send::<NoteJson>("PUT", &url, &json, &format!("update note {id}")).map(Note::from)
    }
}

/// A project id or path (`group/project`) as one URL path segment: everything but unreserved
/// characters percent-encoded.
fn encode_path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_path_is_one_segment() {
        assert_eq!(encode_path_segment("42"), "42");
        assert_eq!(encode_path_segment("group/sub/project"), "group%2Fsub%2Fproject");
        assert_eq!(encode_path_segment("../x?y"), "..%2Fx%3Fy");
    }
}
