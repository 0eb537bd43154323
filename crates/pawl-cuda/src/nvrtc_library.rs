//! Finding NVRTC (`libnvrtc.so.13`, from CUDA 13) where users have it, without asking them to set a path.
//!
//! cudarc opens NVRTC by name, which finds it only where the system's loader looks (`LD_LIBRARY_PATH`,
//! `ld.so.cache`). Where that fails, pawl looks in the usual places — the `nvidia-cuda-nvrtc` wheel in
//! the active Python environment (`site-packages/nvidia/cu13/lib`), a conda environment, a CUDA toolkit —
//! and loads the library by its full path. The loader then knows it by its soname, `libnvrtc.so.13`, so
//! cudarc's open by that name gets this very library. The library stays loaded for the life of the process.
//!
//! `PAWL_NVRTC` names the library (or its folder) outright; nothing else is tried then.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The soname of the NVRTC pawl is built for (cudarc's `cuda-13000` bindings).
pub const SONAME: &str = "libnvrtc.so.13";

/// Where the `nvidia-cuda-nvrtc` wheel puts the library, inside `site-packages`.
const WHEEL_DIR: &str = "nvidia/cu13/lib";

/// How NVRTC was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The file loaded by its path; `None` where the system's loader found it by name.
    pub path: Option<PathBuf>,
    /// Where it was, in words: `the system's library search`, `the Python environment /venv`, …
    pub place: String,
}

/// Why NVRTC was not found: every place looked at, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotFound {
    pub looked: Vec<String>,
    /// `PAWL_NVRTC` was set and names nothing loadable (its error).
    pub setting: Option<String>,
}

impl NotFound {
    /// What to tell the user: where pawl looked, and what to install.
    pub fn message(&self) -> String {
        match &self.setting {
            Some(_) => self.advice(),
            None => format!("NVRTC ({SONAME}, from CUDA 13) was not found; {}", self.advice()),
        }
    }

    /// Where pawl looked and what to do, without naming NVRTC first (`pawl env` names it).
    pub fn advice(&self) -> String {
        if let Some(setting) = &self.setting {
            return format!(
                "NVRTC could not be loaded from PAWL_NVRTC ({setting}); set it to the path of {SONAME} or \
                 its folder, or unset it to let pawl look in the usual places"
            );
        }
        format!(
            "pawl looked in: {}. Install it into the active Python environment with `pip install \
             nvidia-cuda-nvrtc`, or install the CUDA 13 toolkit, or set PAWL_NVRTC to the path of {SONAME}",
            self.looked.join("; ")
        )
    }
}

/// NVRTC, found and loaded once per process.
pub fn locate() -> Result<&'static Found, &'static NotFound> {
    static RESULT: OnceLock<Result<Found, NotFound>> = OnceLock::new();
    RESULT.get_or_init(|| search(&|name| std::env::var_os(name))).as_ref()
}

/// The library handles opened by path, kept open for the life of the process.
static LOADED: OnceLock<libloading::Library> = OnceLock::new();

fn search(var: &dyn Fn(&str) -> Option<OsString>) -> Result<Found, NotFound> {
    if let Some(setting) = var("PAWL_NVRTC").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(&setting);
        let file = if path.is_dir() { path.join(SONAME) } else { path };
        return match load(&file) {
            Ok(()) => Ok(Found { path: Some(file), place: "the path PAWL_NVRTC names".to_owned() }),
            Err(error) => {
                Err(NotFound { looked: Vec::new(), setting: Some(format!("{}: {error}", file.display())) })
            }
        };
    }
    // SAFETY: only tries to dlopen libnvrtc by cudarc's names; nothing is called in it.
    if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Ok(Found { path: None, place: "the system's library search".to_owned() });
    }
    let mut looked = vec!["the system's library search (LD_LIBRARY_PATH, ld.so.cache)".to_owned()];
    for (place, dir) in candidates(var) {
        let file = dir.join(SONAME);
        if file.is_file() && load(&file).is_ok() {
            return Ok(Found { path: Some(file), place });
        }
        if !looked.contains(&place) {
            looked.push(place);
        }
    }
    Err(NotFound { looked, setting: None })
}

/// Loads the library at `path` and keeps it loaded.
fn load(path: &Path) -> Result<(), String> {
    if !path.is_file() {
        return Err("no such file".to_owned());
    }
    // SAFETY: loading NVRTC runs its initialisers, which only set up the library itself.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
    // A second library (a second PAWL_NVRTC search never happens: the search runs once) would be
    // dropped here, which unloads nothing the first did not already hold.
    let _ = LOADED.set(library);
    Ok(())
}

/// The folders that may hold the library, each with the place it stands for, in the order searched:
/// Python environments first (what `pip install` just put there), then CUDA toolkits.
fn candidates(var: &dyn Fn(&str) -> Option<OsString>) -> Vec<(String, PathBuf)> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut out = Vec::new();
    let mut python = |prefix: &Path, what: &str| {
        for site in site_packages(prefix) {
            out.push((format!("the {what} {}", prefix.display()), site.join(WHEEL_DIR)));
        }
    };
    if let Some(venv) = set("VIRTUAL_ENV") {
        python(&venv, "Python environment");
    }
    if let Some(conda) = set("CONDA_PREFIX") {
        python(&conda, "conda environment");
    }
    // The `python3` that PATH runs: a virtual environment's, pyenv's active version, or the system's.
    let path: Vec<PathBuf> = var("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for dir in path.iter().filter(|dir| dir.join("python3").is_file()) {
        // `/bin` is often a link to `/usr/bin`, whose prefix is `/usr`.
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        match dir.parent() {
            Some(root) if dir.ends_with("shims") => {
                for prefix in pyenv_versions(root, var) {
                    python(&prefix, "pyenv version");
                }
            }
            Some(prefix) => python(prefix, "Python installation"),
            None => {}
        }
    }
    if let Some(home) = set("HOME") {
        python(&home.join(".local"), "user site of");
    }
    let mut toolkits: Vec<PathBuf> =
        ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"].iter().filter_map(|n| set(n)).collect();
    // conda's `cuda-nvrtc` package puts the library in the environment's own lib folder.
    toolkits.extend(set("CONDA_PREFIX"));
    toolkits.push(PathBuf::from("/usr/local/cuda"));
    toolkits.extend(versioned_toolkits(Path::new("/usr/local")));
    toolkits.push(PathBuf::from("/opt/cuda"));
    for root in toolkits {
        for lib in ["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"] {
            out.push((format!("the CUDA toolkit {}", root.display()), root.join(lib)));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|(_, dir)| seen.insert(dir.clone()));
    out
}

/// The prefixes of pyenv's active Python versions (`PYENV_VERSION`, else the nearest `.python-version`
/// above the current folder, else pyenv's global `version` file), under pyenv's `root`.
fn pyenv_versions(root: &Path, var: &dyn Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let names = var("PYENV_VERSION").map(|v| v.to_string_lossy().into_owned()).or_else(|| {
        let here = std::env::current_dir().ok()?;
        here.ancestors()
            .map(|dir| dir.join(".python-version"))
            .chain([root.join("version")])
            .find_map(|file| std::fs::read_to_string(file).ok())
    });
    names
        .unwrap_or_default()
        .split([':', '\n'])
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != "system")
        .map(|name| root.join("versions").join(name))
        .collect()
}

/// `PREFIX/lib/python3.*/site-packages` (and Debian's `dist-packages`) that exist, newest Python first.
fn site_packages(prefix: &Path) -> Vec<PathBuf> {
    let lib = prefix.join("lib");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.reverse();
    versions
        .into_iter()
        .flat_map(|dir| [dir.join("site-packages"), dir.join("dist-packages")])
        .filter(|dir| dir.is_dir())
        .collect()
}

/// `/usr/local/cuda-13.0`, `/usr/local/cuda-13`, …: the toolkits of CUDA 13, newest first.
fn versioned_toolkits(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("cuda-13"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.reverse();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.as_os_str().to_owned())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_wheel_in_the_active_virtual_environment_is_a_candidate() {
        let venv = tempfile::tempdir().unwrap();
        let site = venv.path().join("lib/python3.12/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        let found = candidates(&vars(&[("VIRTUAL_ENV", venv.path())]));
        assert_eq!(found[0].1, site.join("nvidia/cu13/lib"), "{found:?}");
        assert!(found[0].0.contains("Python environment"), "{found:?}");
        assert!(found.iter().any(|(_, dir)| dir == Path::new("/usr/local/cuda/lib64")));
    }

    #[test]
    fn pyenv_shims_stand_for_the_active_version() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("shims")).unwrap();
        std::fs::write(root.path().join("shims/python3"), "").unwrap();
        let site = root.path().join("versions/3.12.1/lib/python3.12/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        let path = root.path().join("shims");
        let version = Path::new("3.12.1");
        let found = candidates(&vars(&[("PATH", &path), ("PYENV_VERSION", version)]));
        assert!(
            found.iter().any(|(place, dir)| dir == &site.join("nvidia/cu13/lib") && place.contains("pyenv")),
            "{found:?}"
        );
    }

    #[test]
    fn a_toolkit_named_by_cuda_home_comes_before_the_default_ones() {
        let home = Path::new("/somewhere/cuda-13.1");
        let found = candidates(&vars(&[("CUDA_HOME", home)]));
        let at = |dir: &Path| found.iter().position(|(_, d)| d == dir).unwrap();
        assert!(at(&home.join("lib64")) < at(Path::new("/usr/local/cuda/lib64")));
    }

    #[test]
    fn a_pawl_nvrtc_setting_that_names_nothing_says_so() {
        let missing = Path::new("/nonexistent/libnvrtc.so.13");
        let err = search(&vars(&[("PAWL_NVRTC", missing)])).unwrap_err();
        let message = err.message();
        assert!(
            message.contains("PAWL_NVRTC") && message.contains("/nonexistent/libnvrtc.so.13"),
            "{message}"
        );
    }

    #[test]
    fn the_message_says_where_pawl_looked_and_what_to_install() {
        let err = NotFound { looked: vec!["the CUDA toolkit /usr/local/cuda".to_owned()], setting: None };
        let message = err.message();
        assert!(message.contains("libnvrtc.so.13"), "{message}");
        assert!(message.contains("/usr/local/cuda"), "{message}");
        assert!(message.contains("pip install nvidia-cuda-nvrtc"), "{message}");
    }
}
