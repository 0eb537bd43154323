//! git, run as the `git` command. Every call pawl makes to git goes through [`run`], so each failure
//! names the command, the folder and what git said; the operations below build on it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use pawl_core::run::GitInfo;

/// Runs `git -C DIR ARGS…` and returns its standard output. A failure quotes the command and git's
/// standard error. An empty `dir` means the current folder.
pub fn run<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<Vec<u8>> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let shown = || args.iter().map(|a| a.as_ref().to_string_lossy()).collect::<Vec<_>>().join(" ");
    let output =
        Command::new("git").arg("-C").arg(dir).args(args).output().with_context(|| {
            format!("cannot run `git {}` in {}; is git installed?", shown(), dir.display())
        })?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = if said.trim().is_empty() { String::new() } else { format!(": {}", said.trim()) };
        bail!("`git {}` failed in {} ({}){said}", shown(), dir.display(), output.status);
    }
    Ok(output.stdout)
}

/// [`run`]'s output as text, trimmed.
pub fn text<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<String> {
    Ok(String::from_utf8_lossy(&run(dir, args)?).trim().to_owned())
}

/// Commit, branch and dirty flag of the repository holding `dir`; `None` outside a repository or
/// without git.
pub fn info(dir: &Path) -> Option<GitInfo> {
    let commit = text(dir, &["rev-parse", "HEAD"]).ok()?;
    let branch = text(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).ok().filter(|b| b != "HEAD");
    let dirty = text(dir, &["status", "--porcelain", "--untracked-files=no"]).is_ok_and(|s| !s.is_empty());
    Some(GitInfo { commit, branch, dirty })
}

/// The top folder of the git repository holding `dir`.
pub fn repo_root(dir: &Path) -> Result<PathBuf> {
    let top = text(dir, &["rev-parse", "--show-toplevel"]).with_context(|| {
        format!("{} is not inside a git repository, which comparing revisions needs", dir.display())
    })?;
    Ok(PathBuf::from(top))
}

/// The commit `rev` names in the repository at `root`, or an error that quotes `rev`.
pub fn resolve(root: &Path, rev: &str) -> Result<String> {
    // `--quiet`: git says nothing when the revision does not exist, so the message is pawl's alone.
    text(root, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]).map_err(|_| {
        anyhow::anyhow!(
            "`{rev}` names no commit in {}; give a branch, tag or commit (in a shallow clone, fetch it \
             first: `git fetch --depth=1 origin {rev}`)",
            root.display()
        )
    })
}

/// The bytes of `path` (relative to `root`) as of `commit`.
pub fn show(root: &Path, commit: &str, path: &Path) -> Result<Vec<u8>> {
    run(root, &["show", &spec(commit, path)])
        .with_context(|| format!("{} is not in revision {commit}", path.display()))
}

/// Whether `path` (relative to `root`) exists as of `commit`.
pub fn exists(root: &Path, commit: &str, path: &Path) -> bool {
    run(root, &["cat-file", "-e", &spec(commit, path)]).is_ok()
}

/// Writes the whole tree of `commit` into the folder `dest` (`git archive | tar -x`), without touching
/// the working tree or the index.
pub fn export(root: &Path, commit: &str, dest: &Path) -> Result<()> {
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", commit])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("cannot run `git archive {commit}` in {}; is git installed?", root.display())
        })?;
    let tar_input = archive.stdout.take().context("git archive has no output")?;
    let untar = Command::new("tar").arg("-x").arg("-C").arg(dest).stdin(tar_input).output();
    let archived = archive.wait_with_output().context("cannot wait for git archive")?;
    let untar = untar.context("cannot run tar to unpack the revision's files")?;
    if !archived.status.success() || !untar.status.success() {
        bail!(
            "cannot export revision {commit} of {} (`git archive {commit} | tar -x`): {}{}",
            root.display(),
            String::from_utf8_lossy(&archived.stderr).trim(),
            String::from_utf8_lossy(&untar.stderr).trim()
        );
    }
    Ok(())
}

/// Commits the file at `path` alone, whatever else is staged, in the repository that holds it, with
/// `message`. Returns the new commit's short hash.
pub fn commit_only(path: &Path, message: &str) -> Result<String> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let name = path.file_name().with_context(|| format!("{} names no file to commit", path.display()))?;
    let os = OsStr::new;
    run(dir, &[os("add"), os("--"), name])?;
    // `--only` commits the named path as it is on disk and leaves anything else staged out of it.
    run(dir, &[os("commit"), os("--only"), os("--quiet"), os("-m"), os(message), os("--"), name])
        .with_context(|| {
            format!(
                "cannot commit {} (a CI job needs `git config user.name` and `user.email`)",
                path.display()
            )
        })?;
    text(dir, &["rev-parse", "--short", "HEAD"])
}

/// `COMMIT:PATH`, the way git names a file in a revision (forward slashes on every platform).
fn spec(commit: &str, path: &Path) -> String {
    let path: Vec<String> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    format!("{commit}:{}", path.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &["init", "-q"]).unwrap();
        for (key, value) in [("user.name", "t"), ("user.email", "t@t"), ("commit.gpgsign", "false")] {
            run(dir.path(), &["config", key, value]).unwrap();
        }
        dir
    }

    #[test]
    fn reads_files_of_a_revision_and_quotes_what_is_missing() {
        let repo = repo();
        let root = repo.path();
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::write(root.join("src/k.cu"), "// v1\n").unwrap();
        run(root, &["add", "-A"]).unwrap();
        run(root, &["commit", "-qm", "v1"]).unwrap();
        let first = resolve(root, "HEAD").unwrap();
        assert_eq!(first.len(), 40);
        std::fs::write(root.join("src/k.cu"), "// v2\n").unwrap();

        assert_eq!(show(root, &first, Path::new("src/k.cu")).unwrap(), b"// v1\n");
        assert!(exists(root, &first, Path::new("src/k.cu")));
        assert!(!exists(root, &first, Path::new("src/none.cu")));
        let err = format!("{:#}", show(root, &first, Path::new("src/none.cu")).unwrap_err());
        assert!(err.starts_with(&format!("src/none.cu is not in revision {first}: `git show")), "{err}");
        assert!(err.contains("(exit status: 128): fatal: path 'src/none.cu' does not exist"), "{err}");

        let err = format!("{:#}", resolve(root, "no-such-branch").unwrap_err());
        assert!(err.contains("`no-such-branch` names no commit in"), "{err}");
        assert!(err.contains("git fetch --depth=1 origin no-such-branch"), "{err}");
        // What to do comes last: git says nothing of a missing revision under `--quiet`.
        assert!(err.ends_with("origin no-such-branch`)"), "{err}");

        let info = info(root).unwrap();
        assert_eq!(info.commit, first);
        assert!(info.dirty, "src/k.cu changed since the commit");
        assert_eq!(
            repo_root(&root.join("src")).unwrap().canonicalize().unwrap(),
            root.canonicalize().unwrap()
        );

        let out = tempfile::tempdir().unwrap();
        export(root, &first, out.path()).unwrap();
        assert_eq!(std::fs::read_to_string(out.path().join("src/k.cu")).unwrap(), "// v1\n");
        let err = format!("{:#}", export(root, "0000000", out.path()).unwrap_err());
        assert!(err.starts_with("cannot export revision 0000000 of "), "{err}");
    }

    #[test]
    fn outside_a_repository_the_errors_say_so() {
        let dir = tempfile::tempdir().unwrap();
        assert!(info(dir.path()).is_none());
        let err = format!("{:#}", repo_root(dir.path()).unwrap_err());
        assert!(err.contains("is not inside a git repository"), "{err}");
        assert!(err.contains("`git rev-parse --show-toplevel` failed in"), "{err}");
    }

    #[test]
    fn commits_one_file_and_leaves_the_rest_staged() {
        let repo = repo();
        let root = repo.path();
        std::fs::write(root.join("a.txt"), "a\n").unwrap();
        std::fs::write(root.join("base.json"), "{}\n").unwrap();
        run(root, &["add", "a.txt"]).unwrap();
        let short = commit_only(&root.join("base.json"), "baseline").unwrap();
        assert_eq!(text(root, &["rev-parse", "--short", "HEAD"]).unwrap(), short);
        assert_eq!(text(root, &["show", "--name-only", "--format=", "HEAD"]).unwrap(), "base.json");
        assert_eq!(text(root, &["diff", "--cached", "--name-only"]).unwrap(), "a.txt");
    }
}
