//! Finding the CUDA libraries pawl opens at run time where users have them, without asking them to set
//! a path: NVRTC (`libnvrtc.so.13`, which every CUDA bench needs) and CUPTI (`libcupti.so.13`, which
//! gives the kernel clock; without it pawl times with CUDA events).
//!
//! cudarc opens each library by name, which finds it only where the system's loader looks
//! (`LD_LIBRARY_PATH`, `ld.so.cache`). Where that fails, pawl looks in the usual places — the CUDA 13
//! wheel in the active Python environment (`site-packages/nvidia/cu13/lib`), a conda environment, a CUDA
//! toolkit — and loads the library by its full path. The loader then knows it by its soname, so cudarc's
//! open by that name gets this very library. The library stays loaded for the life of the process.
//!
//! A setting (`PAWL_NVRTC`, `PAWL_CUPTI`) names the library (or its folder) outright; nothing else is
//! tried then.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the CUDA 13 wheels (`nvidia-cuda-nvrtc`, `nvidia-cuda-cupti`) put their libraries, inside
/// `site-packages`.
const WHEEL_DIR: &str = "nvidia/cu13/lib";

/// How a library is named to users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Names {
    /// `NVRTC`.
    pub name: &'static str,
    /// The soname of the version pawl is built for (cudarc's `cuda-13000` bindings).
    pub soname: &'static str,
    /// The environment variable that names it outright.
    pub setting: &'static str,
    /// The pip package that ships it.
    pub wheel: &'static str,
}

/// A library pawl opens at run time, and the outcome of looking for it (once per process).
pub struct Library {
    pub names: Names,
    /// Folders under a CUDA toolkit's root that may hold it.
    toolkit_dirs: &'static [&'static str],
    /// Whether cudarc's own open by name finds it.
    present: unsafe fn() -> bool,
    found: OnceLock<Result<Found, NotFound>>,
    /// The handle of a library opened by its path, kept open for the life of the process.
    loaded: OnceLock<libloading::Library>,
}

const TOOLKIT_LIB_DIRS: &[&str] = &["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"];

/// NVRTC, the runtime compiler.
pub static NVRTC: Library = Library {
    names: Names {
        name: "NVRTC",
        soname: "libnvrtc.so.13",
        setting: "PAWL_NVRTC",
        wheel: "nvidia-cuda-nvrtc",
    },
    toolkit_dirs: TOOLKIT_LIB_DIRS,
    present: cudarc::nvrtc::sys::is_culib_present,
    found: OnceLock::new(),
    loaded: OnceLock::new(),
};

/// CUPTI, whose activity records carry the kernels' own start and end timestamps.
pub static CUPTI: Library = Library {
    names: Names {
        name: "CUPTI",
        soname: "libcupti.so.13",
        setting: "PAWL_CUPTI",
        wheel: "nvidia-cuda-cupti",
    },
    toolkit_dirs: &[
        "extras/CUPTI/lib64",
        "lib64",
        "lib",
        "targets/x86_64-linux/lib",
        "targets/sbsa-linux/lib",
    ],
    present: cudarc::cupti::sys::is_culib_present,
    found: OnceLock::new(),
    loaded: OnceLock::new(),
};

/// How a library was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The file loaded by its path; `None` where the system's loader found it by name.
    pub path: Option<PathBuf>,
    /// Where it was, in words: `the system's library search`, `the Python environment /venv`, …
    pub place: String,
}

/// Why a library was not found: every place looked at, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotFound {
    pub names: Names,
    pub looked: Vec<String>,
    /// The setting (`PAWL_NVRTC`) was set and names nothing loadable (its error).
    pub setting: Option<String>,
}

impl NotFound {
    /// What to tell the user: where pawl looked, and what to install.
    pub fn message(&self) -> String {
        let Names { name, soname, .. } = self.names;
        match &self.setting {
            Some(_) => self.advice(),
            None => format!("{name} ({soname}, from CUDA 13) was not found; {}", self.advice()),
        }
    }

    /// Where pawl looked and what to do, without naming the library first (`pawl env` names it).
    pub fn advice(&self) -> String {
        let Names { name, soname, setting: variable, wheel } = self.names;
        if let Some(setting) = &self.setting {
            return format!(
                "{name} could not be loaded from {variable} ({setting}); set it to the path of {soname} or \
                 its folder, or unset it to let pawl look in the usual places"
            );
        }
        format!(
            "pawl looked in: {}. Install it into the active Python environment with `pip install \
             {wheel}`, or install the CUDA 13 toolkit, or set {variable} to the path of {soname}",
            self.looked.join("; ")
        )
    }
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("names", &self.names).field("found", &self.found.get()).finish()
    }
}

impl Library {
    /// The library, found and loaded once per process.
    pub fn locate(&'static self) -> Result<&'static Found, &'static NotFound> {
        self.found.get_or_init(|| self.search(&|name| std::env::var_os(name))).as_ref()
    }

    fn search(&self, var: &dyn Fn(&str) -> Option<OsString>) -> Result<Found, NotFound> {
        let names = self.names;
        if let Some(setting) = var(names.setting).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(&setting);
            let file = if path.is_dir() { path.join(names.soname) } else { path };
            return match self.load(&file) {
                Ok(()) => Ok(Found { path: Some(file), place: format!("the path {} names", names.setting) }),
                Err(error) => Err(NotFound {
                    names,
                    looked: Vec::new(),
                    setting: Some(format!("{}: {error}", file.display())),
                }),
            };
        }
        // SAFETY: only tries to dlopen the library by cudarc's names; nothing is called in it.
        if unsafe { (self.present)() } {
            return Ok(Found { path: None, place: "the system's library search".to_owned() });
        }
        let mut looked = vec!["the system's library search (LD_LIBRARY_PATH, ld.so.cache)".to_owned()];
        for (place, dir) in self.candidates(var) {
            let file = dir.join(names.soname);
            if file.is_file() && self.load(&file).is_ok() {
                return Ok(Found { path: Some(file), place });
            }
            if !looked.contains(&place) {
                looked.push(place);
            }
        }
        Err(NotFound { names, looked, setting: None })
    }

    /// Loads the library at `path` and keeps it loaded.
    fn load(&self, path: &Path) -> Result<(), String> {
        if !path.is_file() {
            return Err("no such file".to_owned());
        }
        // SAFETY: loading NVRTC or CUPTI runs their initialisers, which only set up the library itself.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
        // The search runs once per process, so a second handle never arrives; were it to, dropping it
        // would unload nothing the first does not hold.
        let _ = self.loaded.set(library);
        Ok(())
    }

    /// The folders that may hold the library, each with the place it stands for, in the order
    /// searched: Python environments first (what `pip install` just put there), then CUDA toolkits.
    fn candidates(&self, var: &dyn Fn(&str) -> Option<OsString>) -> Vec<(String, PathBuf)> {
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
        // conda's `cuda-nvrtc` and `cuda-cupti` packages put the library in the environment's own lib folder.
        toolkits.extend(set("CONDA_PREFIX"));
        toolkits.push(PathBuf::from("/usr/local/cuda"));
        toolkits.extend(versioned_toolkits(Path::new("/usr/local")));
        toolkits.push(PathBuf::from("/opt/cuda"));
        for root in toolkits {
            for lib in self.toolkit_dirs {
                out.push((format!("the CUDA toolkit {}", root.display()), root.join(lib)));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|(_, dir)| seen.insert(dir.clone()));
        out
    }
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
    newest_first(&prefix.join("lib"), "python3")
        .into_iter()
        .flat_map(|dir| [dir.join("site-packages"), dir.join("dist-packages")])
        .filter(|dir| dir.is_dir())
        .collect()
}

/// `/usr/local/cuda-13.0`, `/usr/local/cuda-13`, …: the toolkits of CUDA 13, newest first.
fn versioned_toolkits(root: &Path) -> Vec<PathBuf> {
    newest_first(root, "cuda-13")
}

/// The entries of `dir` whose names start with `prefix`, in reverse name order (newest version first).
fn newest_first(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
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
        let found = NVRTC.candidates(&vars(&[("VIRTUAL_ENV", venv.path())]));
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
        let found = NVRTC.candidates(&vars(&[("PATH", &path), ("PYENV_VERSION", version)]));
        assert!(
            found.iter().any(|(place, dir)| dir == &site.join("nvidia/cu13/lib") && place.contains("pyenv")),
            "{found:?}"
        );
    }

    #[test]
    fn a_toolkit_named_by_cuda_home_comes_before_the_default_ones() {
        let home = Path::new("/somewhere/cuda-13.1");
        let found = NVRTC.candidates(&vars(&[("CUDA_HOME", home)]));
        let at = |dir: &Path| found.iter().position(|(_, d)| d == dir).unwrap();
        assert!(at(&home.join("lib64")) < at(Path::new("/usr/local/cuda/lib64")));
    }

    #[test]
    fn a_pawl_nvrtc_setting_that_names_nothing_says_so() {
        let missing = Path::new("/nonexistent/libnvrtc.so.13");
        let err = NVRTC.search(&vars(&[("PAWL_NVRTC", missing)])).unwrap_err();
        let message = err.message();
        assert!(
            message.contains("PAWL_NVRTC") && message.contains("/nonexistent/libnvrtc.so.13"),
            "{message}"
        );
    }

    #[test]
    fn the_message_says_where_pawl_looked_and_what_to_install() {
        let err = NotFound {
            names: NVRTC.names,
            looked: vec!["the CUDA toolkit /usr/local/cuda".to_owned()],
            setting: None,
        };
        let message = err.message();
        assert!(message.contains("libnvrtc.so.13"), "{message}");
        assert!(message.contains("/usr/local/cuda"), "{message}");
        assert!(message.contains("pip install nvidia-cuda-nvrtc"), "{message}");
    }

    #[test]
    fn cupti_is_looked_for_where_the_toolkit_keeps_it() {
        let home = Path::new("/somewhere/cuda-13.0");
        let found = CUPTI.candidates(&vars(&[("CUDA_HOME", home)]));
        assert!(found.iter().any(|(_, dir)| dir == &home.join("extras/CUPTI/lib64")), "{found:?}");
        let err = NotFound { names: CUPTI.names, looked: Vec::new(), setting: None };
        assert!(err.message().contains("pip install nvidia-cuda-cupti"), "{}", err.message());
        assert!(err.message().contains("libcupti.so.13"), "{}", err.message());
    }
}
