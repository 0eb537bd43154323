//! The files a suite needs, as they are in a git revision: read with `git show REV:path` into a
//! folder of their own, so the user's working tree is never checked out or touched.
//!
//! What is taken: the suite file, every `cuda` bench's `source` and reference `source`, and every
//! local `#include "…"` they reach (against the including file's folder, then the bench's
//! `include_dirs`), recursively. The suite file is read as plain TOML to find them, because loading
//! it as a suite needs those files on disk first.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use crate::git;

/// Writes the files the suite at `suite` (relative to `root`) needs, as of commit `commit`, under
/// `dest` at their paths relative to `root`. Returns the suite file's path under `dest`.
pub fn extract(root: &Path, commit: &str, suite: &Path, dest: &Path) -> Result<PathBuf> {
    let suite_rel = normalize(suite);
    let text = git::show(root, commit, &suite_rel)?;
    write(dest, &suite_rel, &text)?;
    let suite_dir = suite_rel.parent().map(Path::to_owned).unwrap_or_default();
    let doc: toml::Table = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse().ok())
        .with_context(|| format!("{} at {commit}: not valid TOML", suite_rel.display()))?;

    let mut pending: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    let benches = doc.get("bench").and_then(toml::Value::as_array).cloned().unwrap_or_default();
    for bench in benches.iter().filter_map(toml::Value::as_table) {
        if bench.get("kind").and_then(toml::Value::as_str).is_some_and(|k| k != "cuda") {
            continue;
        }
        let include_dirs: Vec<PathBuf> = bench
            .get("include_dirs")
            .and_then(toml::Value::as_array)
            .map(|dirs| {
                dirs.iter().filter_map(toml::Value::as_str).map(|d| normalize(&suite_dir.join(d))).collect()
            })
            .unwrap_or_default();
        for dir in &include_dirs {
            std::fs::create_dir_all(dest.join(dir))
                .with_context(|| format!("cannot create {}", dest.join(dir).display()))?;
        }
        let reference = bench.get("reference").and_then(toml::Value::as_table);
        let sources = [bench.get("source"), reference.and_then(|r| r.get("source"))];
        for source in sources.into_iter().flatten().filter_map(toml::Value::as_str) {
            pending.push((normalize(&suite_dir.join(source)), include_dirs.clone()));
        }
    }

    let mut seen = BTreeSet::new();
    while let Some((path, include_dirs)) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let bytes = git::show(root, commit, &path)?;
        write(dest, &path, &bytes)?;
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        for name in pawl_cuda::quoted_includes(&String::from_utf8_lossy(&bytes)) {
            let candidates = std::iter::once(&dir).chain(&include_dirs).map(|d| normalize(&d.join(&name)));
            if let Some(found) = candidates.into_iter().find(|p| git::exists(root, commit, p)) {
                pending.push((found, include_dirs.clone()));
            }
        }
    }
    Ok(dest.join(suite_rel))
}

/// `path` without `.` and with `..` applied, as git paths need.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    out
}

fn write(dest: &Path, rel: &Path, bytes: &[u8]) -> Result<()> {
    let path = dest.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs git in `dir` as a test user, failing the test if git fails.
    fn git_ok(dir: &Path, args: &[&str]) {
        let config = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"];
        git::run(dir, &[&config[..], args].concat()).unwrap();
    }

    fn put(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn extracts_suite_sources_and_includes_of_a_revision() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        git_ok(root, &["init", "-q"]);
        put(
            root,
            "bench/pawl.toml",
            r#"
[suite]
name = "t"

[[bench]]
name = "k"
kind = "cuda"
source = "../kernels/k.cu"
kernel = "k"
include_dirs = ["../inc"]
grid = 1
block = 32
args = [{ name = "x", dtype = "f32", count = 32, output = true }]
reference = { source = "ref.cu", kernel = "k_ref", grid = 1, block = 32 }
"#,
        );
        put(root, "kernels/k.cu", "#include \"common.h\"\n#include <cuda_fp16.h>\n// v1\n");
        put(root, "inc/common.h", "#include \"deeper/more.h\"\n");
        put(root, "inc/deeper/more.h", "// more v1\n");
        put(root, "bench/ref.cu", "// ref\n");
        put(root, "unrelated.txt", "not needed\n");
        git_ok(root, &["add", "-A"]);
        git_ok(root, &["commit", "-qm", "v1"]);
        let first = git::resolve(root, "HEAD").unwrap();
        // The working tree moves on; the revision's files must come back as they were.
        put(root, "kernels/k.cu", "// v2, no includes\n");
        put(root, "inc/deeper/more.h", "// more v2\n");
        git_ok(root, &["commit", "-qam", "v2"]);
        put(root, "kernels/k.cu", "// uncommitted\n");

        let out = tempfile::tempdir().unwrap();
        let suite = extract(root, &first, Path::new("bench/pawl.toml"), out.path()).unwrap();
        assert_eq!(suite, out.path().join("bench/pawl.toml"));
        let read = |rel: &str| std::fs::read_to_string(out.path().join(rel)).unwrap();
        assert!(read("kernels/k.cu").contains("// v1"));
        assert_eq!(read("inc/deeper/more.h"), "// more v1\n");
        assert_eq!(read("bench/ref.cu"), "// ref\n");
        assert!(!out.path().join("unrelated.txt").exists(), "only what the suite needs");
        assert_eq!(std::fs::read_to_string(root.join("kernels/k.cu")).unwrap(), "// uncommitted\n");
        pawl_core::suite::Suite::load(&suite).expect("the extracted suite loads");
    }

    #[test]
    fn normalizes_and_scans() {
        assert_eq!(normalize(Path::new("a/./b/../c.cu")), PathBuf::from("a/c.cu"));
        assert_eq!(pawl_cuda::quoted_includes("  # include \"x.h\"\n#include <y>\n"), vec!["x.h".to_owned()]);
    }
}
