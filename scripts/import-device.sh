#!/usr/bin/env bash
# Makes fresh Kernel Tuner and nvbench result files on a GPU machine, for pawl's import fixtures: what
# crates/pawl-core/tests/fixtures/import/make.sh cannot make without a GPU. About a minute of GPU time.
#
# Kernel Tuner runs through CuPy (tune_cuda.py): a cache with failure entries (InvalidConfig,
# RuntimeFailedConfig, CompilationFailedConfig) and its results file (T4, with `invalidity`), the same
# tuning with a planted slowdown, and a run killed once four configurations are in its cache (left
# unclosed). nvbench runs through its Python bindings, cuda-bench (bench_cupy.py): --json with the
# --jsonbin per-sample files, and the same with a planted slowdown.
#
# The machine has CuPy, cuda-bindings, numpy, scipy, pandas and scikit-learn, but no network: the other
# packages travel as wheels in .whl/ (git-ignored). Fetch them first, from the repository's root, on a
# machine with PyPI (versions as tested; kernel_tuner's Requires-Dist less what the GPU machine has):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl \
#     kernel_tuner==1.5.0 python-constraint2==2.9.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 \
#     referencing==0.37.0 rpds-py==2026.9.1 xmltodict==1.0.4 cuda-bench==0.3.0
# Then run this script there with .whl carried; it writes into $OUT (or ./import-device-out):
#   scripts/import-device.sh
# and copy $OUT/import/kernel-tuner/* and $OUT/import/nvbench/* into the fixture folders of the same
# names under crates/pawl-core/tests/fixtures/import/ (README.md there says what each file is).
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=crates/pawl-core/tests/fixtures/import
out=${OUT:-import-device-out}/import
mkdir -p "$out/kernel-tuner" "$out/nvbench"

ls .whl/*.whl >/dev/null 2>&1 || { echo "import-device.sh: no wheels in .whl/; see the header" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
python3 -c 'import kernel_tuner, cuda.bench, cupy; print("kernel_tuner", kernel_tuner.__version__ if hasattr(kernel_tuner, "__version__") else "?", "cupy", cupy.__version__)'

# The tools record their working folder and paths: run them in a neutral one.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$fixtures/kernel-tuner/tune_cuda.py" "$fixtures/nvbench/bench_cupy.py" "$work/"
kt=$(cd "$out/kernel-tuner" && pwd)
nv=$(cd "$out/nvbench" && pwd)
rm -f "$kt"/*.json
rm -rf "$nv"/*

echo "== Kernel Tuner: cache with failures and results file"
(cd "$work" && time python3 tune_cuda.py "$kt/cuda-cache.json" --results "$kt/cuda-results.json")
echo "== Kernel Tuner: planted slowdown"
(cd "$work" && python3 tune_cuda.py "$kt/cuda-cache-slow.json" --slow)
echo "== Kernel Tuner: a run killed after four configurations"
(cd "$work" && exec python3 tune_cuda.py "$kt/cuda-cache-unclosed.json") & tuner=$!
for _ in $(seq 1 3000); do
    entries=$(grep -c '"timestamp"' "$kt/cuda-cache-unclosed.json" 2>/dev/null || true)
    [ "${entries:-0}" -ge 4 ] && break
    sleep 0.01
done
kill -9 "$tuner" 2>/dev/null || true
wait "$tuner" 2>/dev/null || true

echo "== nvbench (cuda-bench): --json with --jsonbin, and a planted slowdown"
nvbench_run() { python3 bench_cupy.py --min-time 0.2 --timeout 3 --json "$1" --jsonbin; }
(cd "$nv" && cp "$work/bench_cupy.py" . && nvbench_run run.json && PAWL_PLANTED_SLOWDOWN=1 nvbench_run run-slow.json \
    && rm bench_cupy.py)

echo "== what the files hold"
python3 - "$kt" "$nv" <<'EOF'
import json, pathlib, sys
kt, nv = map(pathlib.Path, sys.argv[1:])
for path in sorted(kt.glob("*.json")):
    text = path.read_text()
    closed = text.rstrip().endswith("}\n}") or text.rstrip().endswith("}}}")
    failures = {s: text.count('"' + s + '"') for s in ("InvalidConfig", "CompilationFailedConfig", "RuntimeFailedConfig")}
    timed = text.count('"times"')
    print(f"{path.name}: {len(text)} bytes, {'closed' if closed else 'UNCLOSED'}, {timed} entries with times, failures {failures}")
for path in sorted(nv.glob("*.json")):
    data = json.loads(path.read_text())
    states = [s for b in data["benchmarks"] for s in b["states"]]
    bins = [s for st in states for s in st.get("summaries") or [] if s["tag"].startswith("nv/json/bin:")]
    print(f"{path.name}: nvbench {data['meta']['version']['nvbench']['string']}, {len(states)} states, {len(bins)} sample files, devices {[d['name'] for d in data['devices']]}")
EOF
