//! Compiling kernels with NVRTC, through the disk cache.
//!
//! A kernel is compiled to a cubin for the device's architecture (the arch-specific `sm_90a` on
//! Hopper), with the bench's tune values and defines as `-D`, its include folders, its extra flags and
//! `-lineinfo` (so profiles map back to source lines). A compile error carries NVRTC's log with the
//! source lines each message points at.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use cudarc::nvrtc::{result as nvrtc, sys as nvrtc_sys};
use pawl_core::suite::CudaBench;
use pawl_core::value::Params;
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::error::CudaError;

/// One translation unit to compile.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Shown in NVRTC's messages: the file path, or a name for built-in sources.
    pub name: String,
    pub text: String,
    /// The folder `#include "..."` is resolved against first (the source's own folder).
    pub dir: Option<PathBuf>,
}

impl Source {
    pub fn read(path: &Path) -> Result<Source, CudaError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| CudaError::Read { path: path.to_owned(), source })?;
        Ok(Source { name: path.display().to_string(), text, dir: path.parent().map(Path::to_owned) })
    }
}

/// Everything besides the source that changes what NVRTC produces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// `-D NAME=VALUE`, in the order given.
    pub defines: Vec<(String, String)>,
    pub include_dirs: Vec<PathBuf>,
    /// Passed to NVRTC as they are, after pawl's own options (so they win).
    pub extra_flags: Vec<String>,
    /// `sm_90a`.
    pub arch: String,
}

impl Options {
    /// The NVRTC command line for `source`.
    pub fn to_args(&self, source: &Source) -> Vec<String> {
        let mut args =
            vec![format!("--gpu-architecture={}", self.arch), "-lineinfo".into(), "--std=c++17".into()];
        if let Some(dir) = &source.dir {
            args.push(include_flag(dir));
        }
        args.extend(self.include_dirs.iter().map(|d| include_flag(d)));
        args.extend(self.defines.iter().map(|(name, value)| format!("-D{name}={value}")));
        args.extend(self.extra_flags.iter().cloned());
        args
    }
}

/// `-I<dir>`. The folder of a source named without one (`kernel.cu`, from a suite in the current folder)
/// is empty, and a bare `-I` would make NVRTC take the *next* option (a `-D` define, say) as the folder.
fn include_flag(dir: &Path) -> String {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    format!("-I{}", dir.display())
}

/// The NVRTC version as `(major, minor)`.
pub fn nvrtc_version() -> Result<(i32, i32), CudaError> {
    crate::libraries::NVRTC.locate().map_err(|missing| CudaError::NoNvrtc(missing.message()))?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: both pointers are valid for writes of one c_int; libnvrtc is present (checked above).
    unsafe { nvrtc_sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| CudaError::Nvrtc(format!("nvrtcVersion failed: {e:?}")))?;
    Ok((major, minor))
}

/// The cache key: SHA-256 over the source, the contents of every local header it includes
/// (recursively), the options (defines, include folders, flags, architecture) and the NVRTC version.
pub fn cache_key(source: &Source, options: &Options, nvrtc: (i32, i32)) -> String {
    let mut hash = Sha256::new();
    let mut field = |label: &str, bytes: &[u8]| {
        // Length-prefixed, so that moving bytes between fields changes the key.
        hash.update(label.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field("pawl-nvrtc/1", b"");
    field("source", source.text.as_bytes());
    for (path, text) in local_includes(source, &options.include_dirs) {
        field("include", path.display().to_string().as_bytes());
        field("include-text", &text);
    }
    for arg in options.to_args(source) {
        field("arg", arg.as_bytes());
    }
    field("nvrtc", format!("{}.{}", nvrtc.0, nvrtc.1).as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every `#include "..."` reachable from `source` that resolves to a file (against the including
/// file's folder, then the include folders), with its bytes, in a stable order.
pub fn local_includes(source: &Source, include_dirs: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    let mut pending: Vec<(Option<PathBuf>, String)> = vec![(source.dir.clone(), source.text.clone())];
    while let Some((dir, text)) = pending.pop() {
        for name in quoted_includes(&text) {
            let candidates = dir.iter().chain(include_dirs).map(|d| d.join(&name));
            let Some(path) = candidates.into_iter().find(|p| p.is_file()) else { continue };
            let path = path.canonicalize().unwrap_or(path);
            if !seen.insert(path.clone()) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            pending.push((path.parent().map(Path::to_owned), String::from_utf8_lossy(&bytes).into_owned()));
            found.push((path, bytes));
        }
    }
    found.sort();
    found
}

/// The names in `#include "name"` lines (system includes in angle brackets are NVRTC's own).
pub fn quoted_includes(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix('#')?.trim_start().strip_prefix("include")?;
            let rest = rest.trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

/// A digest of everything in a case's code that a GPU does not decide: the kernel's and the
/// reference's sources and the local headers they include (byte for byte), the defines as NVRTC gets
/// them (tune values, then the bench's `defines` evaluated over `vars`) and the extra flags. Needs
/// no GPU: `pawl tune` keys its measurement cache with it, beside the GPU and driver.
pub fn code_digest(bench: &CudaBench, vars: &Params, tune: &Params) -> Result<String, CudaError> {
    let mut hash = Sha256::new();
    let mut field = |label: &str, bytes: &[u8]| {
        hash.update(label.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    let mut sources = vec![(&bench.source, &bench.defines)];
    if let Some(reference) = &bench.reference {
        sources.push((&reference.source, &reference.defines));
    }
    for (path, defines) in sources {
        let path = if path.as_os_str().is_empty() { &bench.source } else { path };
        let source = Source::read(path)?;
        field("source", source.text.as_bytes());
        let home = source.dir.clone().unwrap_or_default();
        for (include, bytes) in local_includes(&source, &bench.include_dirs) {
            let name = include.strip_prefix(&home).unwrap_or(&include);
            field("include", name.display().to_string().as_bytes());
            field("include-text", &bytes);
        }
        for (name, value) in tune.iter() {
            field("define", format!("{name}={}", crate::session::define_value(value)).as_bytes());
        }
        for (name, expr) in defines {
            let value = expr.eval(vars).map_err(|e| CudaError::Setup(format!("define {name}: {e}")))?;
            field("define", format!("{name}={}", crate::session::define_value(&value)).as_bytes());
        }
    }
    for flag in &bench.extra_flags {
        field("flag", flag.as_bytes());
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A compiled kernel image.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub cubin: Vec<u8>,
}

/// Compiles `source` to a cubin, or takes it from `cache`.
pub fn compile(source: &Source, options: &Options, cache: &Cache) -> Result<Compiled, CudaError> {
    let version = nvrtc_version()?;
    let key = cache_key(source, options, version);
    if let Some(cubin) = cache.get(&key) {
        return Ok(Compiled { cubin });
    }
    let cubin = run_nvrtc(source, &options.to_args(source))?;
    cache.put(&key, &cubin);
    Ok(Compiled { cubin })
}

/// Destroys an NVRTC program on every path out of [`run_nvrtc`].
struct Program(nvrtc_sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program was created by nvrtc::create_program and is destroyed only here.
        let _ = unsafe { nvrtc::destroy_program(self.0) };
    }
}

fn run_nvrtc(source: &Source, args: &[String]) -> Result<Vec<u8>, CudaError> {
    let nul = |what: &str| CudaError::Nvrtc(format!("{what} of {} contains a NUL byte", source.name));
    let text = CString::new(source.text.as_str()).map_err(|_| nul("the source"))?;
    let name = CString::new(source.name.as_str()).map_err(|_| nul("the name"))?;
    if args.iter().any(|a| a.contains('\0')) {
        return Err(nul("an option"));
    }
    let program = Program(
        nvrtc::create_program(&text, Some(&name))
            .map_err(|e| CudaError::Nvrtc(format!("cannot create a program for {}: {e:?}", source.name)))?,
    );
    // SAFETY: the program is live (owned by `program`); options hold no NUL byte (checked above).
    let compiled = unsafe { nvrtc::compile_program(program.0, args) };
    if let Err(e) = compiled {
        // SAFETY: the program is live.
        let log =
            unsafe { nvrtc::get_program_log(program.0) }.map(|l| c_chars_to_string(&l)).unwrap_or_default();
        if e.0 == nvrtc_sys::nvrtcResult::NVRTC_ERROR_COMPILATION {
            return Err(CudaError::Compile {
                source_path: PathBuf::from(&source.name),
                log: annotate_log(&log, source),
            });
        }
        return Err(CudaError::Nvrtc(format!("compiling {} failed: {e:?}\n{log}", source.name)));
    }
    let mut size = 0usize;
    // SAFETY: the program compiled; `size` is valid for one write.
    unsafe { nvrtc_sys::nvrtcGetCUBINSize(program.0, &mut size) }
        .result()
        .map_err(|e| CudaError::Nvrtc(format!("no cubin for {}: {e:?}", source.name)))?;
    let mut cubin = vec![0u8; size];
    // SAFETY: `cubin` holds exactly the `size` bytes NVRTC reported.
    unsafe { nvrtc_sys::nvrtcGetCUBIN(program.0, cubin.as_mut_ptr().cast()) }
        .result()
        .map_err(|e| CudaError::Nvrtc(format!("cannot read the cubin of {}: {e:?}", source.name)))?;
    Ok(cubin)
}

fn c_chars_to_string(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// NVRTC's log with, after each `file(LINE): ...` message, the line it points at.
pub fn annotate_log(log: &str, source: &Source) -> String {
    let mut out = String::new();
    for line in log.lines() {
        out.push_str(line);
        out.push('\n');
        let Some((file, number)) = log_location(line) else { continue };
        let text = if file == source.name {
            source.text.lines().nth(number - 1).map(str::to_owned)
        } else {
            std::fs::read_to_string(file).ok().and_then(|t| t.lines().nth(number - 1).map(str::to_owned))
        };
        if let Some(text) = text {
            out.push_str(&format!("  {number:>5} | {text}\n"));
        }
    }
    out.trim_end().to_owned()
}

/// `("kernel.cu", 12)` from `kernel.cu(12): error: ...`.
fn log_location(line: &str) -> Option<(&str, usize)> {
    let (head, _) = line.split_once("): ")?;
    let (file, number) = head.rsplit_once('(')?;
    let number: usize = number.parse().ok()?;
    (number > 0 && !file.is_empty()).then_some((file, number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str, dir: Option<&Path>) -> Source {
        Source { name: "k.cu".into(), text: text.into(), dir: dir.map(Path::to_owned) }
    }

    fn options() -> Options {
        Options {
            defines: vec![("BLOCK".into(), "128".into())],
            include_dirs: vec![],
            extra_flags: vec!["--use_fast_math".into()],
            arch: "sm_90a".into(),
        }
    }

    #[test]
    fn args_hold_arch_lineinfo_includes_defines_and_flags_in_order() {
        let args = options().to_args(&source("", Some(Path::new("/k"))));
        assert_eq!(
            args,
            [
                "--gpu-architecture=sm_90a",
                "-lineinfo",
                "--std=c++17",
                "-I/k",
                "-DBLOCK=128",
                "--use_fast_math"
            ]
        );
    }

    #[test]
    fn a_source_named_without_a_folder_is_included_from_dot_not_by_a_bare_flag() {
        // A bare `-I` takes the next option (here the define) as its folder, and the define is lost.
        let args = options().to_args(&source("", Some(Path::new(""))));
        assert_eq!(args[3..5], ["-I.", "-DBLOCK=128"]);
        assert!(!args.iter().any(|a| a == "-I"), "{args:?}");
    }

    #[test]
    fn key_changes_with_source_define_arch_nvrtc_and_included_header() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.cuh"), "#include \"b.cuh\"\n#define A 1\n").unwrap();
        std::fs::write(dir.path().join("b.cuh"), "#define B 1\n").unwrap();
        let src =
            source("#include \"a.cuh\"\n#include <cuda_fp16.h>\n__global__ void k(){}", Some(dir.path()));
        let base = cache_key(&src, &options(), (13, 0));
        assert_eq!(base, cache_key(&src, &options(), (13, 0)), "the key is deterministic");
        assert_eq!(base.len(), 64);

        let mut other = options();
        other.defines[0].1 = "256".into();
        assert_ne!(base, cache_key(&src, &other, (13, 0)));
        let mut other = options();
        other.arch = "sm_90".into();
        assert_ne!(base, cache_key(&src, &other, (13, 0)));
        assert_ne!(base, cache_key(&src, &options(), (13, 1)));
        assert_ne!(base, cache_key(&source("// changed", Some(dir.path())), &options(), (13, 0)));

        // A header two levels down changes the key.
        std::fs::write(dir.path().join("b.cuh"), "#define B 2\n").unwrap();
        assert_ne!(base, cache_key(&src, &options(), (13, 0)));
    }

    #[test]
    fn includes_are_followed_recursively_through_include_dirs_once() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc");
        std::fs::create_dir(&inc).unwrap();
        std::fs::write(inc.join("x.cuh"), "#include \"y.cuh\"\n").unwrap();
        std::fs::write(inc.join("y.cuh"), "#include \"x.cuh\"\n").unwrap(); // a cycle
        let src = source("  #  include \"x.cuh\"\n#include \"missing.cuh\"", Some(dir.path()));
        let found = local_includes(&src, std::slice::from_ref(&inc));
        let names: Vec<_> = found.iter().map(|(p, _)| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["x.cuh", "y.cuh"]);
    }

    #[test]
    fn code_digest_follows_sources_headers_defines_and_tune_values() {
        use pawl_core::expr::Expr;
        use pawl_core::suite::{Launch, Reference};
        use pawl_core::value::Value;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.cu"), "#include \"tile.h\"\n__global__ void k() {}\n").unwrap();
        std::fs::write(dir.path().join("tile.h"), "#define T 1\n").unwrap();
        std::fs::write(dir.path().join("ref.cu"), "__global__ void r() {}\n").unwrap();
        let launch = Launch {
            grid: vec![Expr::parse("1").unwrap()],
            block: vec![Expr::parse("1").unwrap()],
            shared_mem: None,
        };
        let bench = CudaBench {
            source: dir.path().join("k.cu"),
            kernel: "k".into(),
            include_dirs: vec![],
            extra_flags: vec![],
            defines: vec![("HEAD".into(), Expr::parse("D * 2").unwrap())],
            launch: launch.clone(),
            args: vec![],
            reference: Some(Reference {
                source: dir.path().join("ref.cu"),
                kernel: "r".into(),
                defines: vec![],
                launch,
                rtol: Expr::parse("0.0").unwrap(),
                atol: Expr::parse("0.0").unwrap(),
            }),
        };
        let vars = |d: i64| -> Params { [("D".to_owned(), Value::Int(d))].into_iter().collect() };
        let tune = |b: i64| -> Params { [("BLOCK".to_owned(), Value::Int(b))].into_iter().collect() };
        let base = code_digest(&bench, &vars(64), &tune(128)).unwrap();
        assert_eq!(base, code_digest(&bench, &vars(64), &tune(128)).unwrap());
        assert_ne!(base, code_digest(&bench, &vars(32), &tune(128)).unwrap(), "a define's value");
        assert_ne!(base, code_digest(&bench, &vars(64), &tune(64)).unwrap(), "a tune value");
        std::fs::write(dir.path().join("tile.h"), "#define T 2\n").unwrap();
        assert_ne!(base, code_digest(&bench, &vars(64), &tune(128)).unwrap(), "a header");
        std::fs::write(dir.path().join("tile.h"), "#define T 1\n").unwrap();
        std::fs::write(dir.path().join("ref.cu"), "__global__ void r() { }\n").unwrap();
        assert_ne!(base, code_digest(&bench, &vars(64), &tune(128)).unwrap(), "the reference");
    }

    #[test]
    fn compile_log_shows_the_lines_it_points_at() {
        let src = source("int a;\nint b = nope;\n", None);
        let log = "k.cu(2): error: identifier \"nope\" is undefined\n1 error detected";
        let annotated = annotate_log(log, &src);
        assert!(annotated.contains("k.cu(2): error"), "{annotated}");
        assert!(annotated.contains("    2 | int b = nope;"), "{annotated}");
        assert_eq!(log_location("no location here"), None);
    }

    /// Every configuration `pawl tune` may try on pawl's attention kernel compiles for Hopper, for the
    /// head dimensions and one variant of mask and dtype each. Runs where libnvrtc can be loaded.
    #[test]
    fn every_configuration_of_the_attention_tune_space_compiles() {
        use pawl_core::plan::{Selection, plan};
        use pawl_core::suite::{BenchKind, Suite};
        use pawl_core::tune::space::Space;
        if !crate::driver::nvrtc_present() {
            eprintln!("skipping: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc)");
            return;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let suite = Suite::load(&root.join("examples/attention/pawl.toml")).unwrap();
        let filter = pawl_core::expr::Expr::parse(
            r#"B == 4 && S == 2048 && ((D == 64 && !causal && dtype == "f16") || (D == 128 && causal && dtype == "bf16"))"#,
        )
        .unwrap();
        let plans = plan(&suite, &Selection { bench: Some("flash_fwd"), filter: Some(&filter) }).unwrap();
        let bench = plans[0].bench;
        let BenchKind::Cuda(cuda) = &bench.kind else { panic!("cuda") };
        let mut jobs = Vec::new();
        for case in &plans[0].cases {
            let space = Space::new(bench, &case.case, &case.tune).unwrap();
            for tune in &space.configs {
                let mut vars = case.case.params.clone();
                for (name, value) in tune.iter() {
                    vars.insert(name, value.clone());
                }
                let mut defines: Vec<(String, String)> =
                    tune.iter().map(|(n, v)| (n.to_owned(), crate::session::define_value(v))).collect();
                for (name, expr) in &cuda.defines {
                    defines.push((name.clone(), crate::session::define_value(&expr.eval(&vars).unwrap())));
                }
                jobs.push((case.case.id.to_string(), tune.to_id_string(), defines));
            }
        }
        assert_eq!(jobs.len(), 90 + 69, "the space of docs/tuning.md");
        let source = Source::read(&cuda.source).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let failures: Vec<String> = std::thread::scope(|scope| {
            let workers: Vec<_> = jobs
                .chunks(jobs.len().div_ceil(2))
                .map(|chunk| {
                    let (source, cache) = (&source, &cache);
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .filter_map(|(case, tune, defines)| {
                                let options = Options {
                                    defines: defines.clone(),
                                    include_dirs: vec![],
                                    extra_flags: vec![],
                                    arch: "sm_90a".into(),
                                };
                                compile(source, &options, cache)
                                    .err()
                                    .map(|e| format!("{case} [{tune}]: {e}"))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        assert!(
            failures.is_empty(),
            "{} configurations do not compile:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// The kernel `pawl init --cuda` writes compiles as the starter suite passes it (`-D BLOCK`), with
    /// both entry points. Runs where libnvrtc can be loaded (no GPU needed).
    #[test]
    fn the_starter_kernel_of_pawl_init_compiles() {
        if !crate::driver::nvrtc_present() {
            eprintln!("skipping: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("../../pawl-cli/templates/cuda/saxpy.cu");
        let starter = Source { name: "saxpy.cu".into(), text: text.into(), dir: Some(PathBuf::new()) };
        let options =
            Options { defines: vec![("BLOCK".into(), "256".into())], extra_flags: vec![], ..options() };
        let compiled = compile(&starter, &options, &Cache::at(dir.path())).unwrap();
        for entry in [&b"saxpy"[..], b"saxpy_ref"] {
            assert!(compiled.cubin.windows(entry.len()).any(|w| w == entry), "no entry point {entry:?}");
        }
    }

    /// Runs where libnvrtc can be loaded (no GPU needed); prints why it skips elsewhere.
    #[test]
    fn nvrtc_compiles_to_a_cubin_and_reports_errors() {
        if !crate::driver::nvrtc_present() {
            eprintln!("skipping: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let good = source("extern \"C\" __global__ void k(float* x) { x[threadIdx.x] = BLOCK; }", None);
        let first = compile(&good, &options(), &cache).unwrap();
        assert!(first.cubin.starts_with(b"\x7fELF"), "a cubin is an ELF image");
        let key = cache_key(&good, &options(), nvrtc_version().unwrap());
        assert_eq!(cache.get(&key).as_deref(), Some(&first.cubin[..]), "stored under its key");
        // A planted entry is served from the cache without compiling.
        cache.put(&key, b"\x7fELF planted");
        assert_eq!(compile(&good, &options(), &cache).unwrap().cubin, b"\x7fELF planted");

        // The define reaches the code when the source is named without a folder (a suite in the
        // current folder): `static_assert` fails the compile if BLOCK is missing or wrong.
        let here = Source {
            name: "here.cu".into(),
            text: "static_assert(BLOCK == 128, \"BLOCK\");\nextern \"C\" __global__ void k() {}\n".into(),
            dir: Some(PathBuf::new()),
        };
        compile(&here, &options(), &cache).unwrap();

        let bad = source("extern \"C\" __global__ void k() {\n  undefined_thing();\n}\n", None);
        let err = compile(&bad, &options(), &cache).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("undefined_thing"), "{text}");
        assert!(text.contains("    2 |   undefined_thing();"), "{text}");
    }
}
