#!/usr/bin/env bash
# The SOTA report's measurements (docs/sota.md) on a GPU machine, within a wall-time budget: the GPU's
# ceilings, then examples/sota/pawl.toml bench by bench (one run file each, so a bench that runs out of
# time costs only itself), then the report itself.
#
#   scripts/sota-device.sh --pack     # on the build machine: release binaries into .carry/main/
#   scripts/sota-device.sh [BUDGET_S] # on the GPU machine (default 420 s in all)
#
# Needs there: the NVIDIA driver, python3 with torch (and triton), NVRTC and cuBLAS from the CUDA
# toolkit or the nvidia-* wheels of the Python environment; no Rust, no network. Wheels of flash_attn or
# xformers carried in .carry/wheels/ are installed (no index, no dependencies) into a folder of their
# own first; without them those implementations are skipped with the reason.
#
# Writes under $OUT (default /tmp/pawl-device):
#   sota/ceilings.json                    what `pawl ceilings` measured (also in every run's environment)
#   sota/runs/{pawl,torch_sdpa,triton,flash_attn,xformers}.json   one run file per bench
#   sota/software.json, sota/commands.txt the versions and the exact commands, for the report
#   sota/env.txt, sota/log.txt, sota/*.out   `pawl env`, pawl's log, each command's standard output
#   sota/report/                          `pawl report` of the runs (when time is left for it)
#   sota/summary.txt                      the short table printed last
# Regenerate the report anywhere (no GPU) with the command at the end of sota/commands.txt.
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.carry/main

if [ "${1:-}" = "--pack" ]; then
    exec "$root/scripts/gpu-check.sh" --pack
fi

budget=${1:-420}
start=$(date +%s)
OUT=${OUT:-/tmp/pawl-device}
out=$OUT/sota
mkdir -p "$out/runs"
B=${PAWL_BIN:-$carry/bin}
export PAWL_CACHE=${PAWL_CACHE:-/tmp/pawl-nvrtc-cache} PAWL_CEILINGS_DIR=$out/ceilings-cache NO_COLOR=1
# Puts the first folder holding lib$1.so.13 on the library path: the toolkit's, else the pip wheel's
# inside the Python environment.
use_lib() {
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             $(python3 -c 'import nvidia, os, glob; print(" ".join(d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib"))))' 2>/dev/null); do
        if ls "$d/lib$1.so.13"* >/dev/null 2>&1; then export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; return 0; fi
    done
    echo "warning: lib$1.so.13 not found" | tee -a "$out/log.txt"
}
use_lib nvrtc
use_lib cublas
cd "$root"
log=$out/log.txt
: > "$out/commands.txt"

left() { echo $(( budget - ($(date +%s) - start) )); }
# Runs "$@" with at most $1 seconds (and never past the budget), recording the command and its time.
step() {
    local limit=$1; shift
    local name=$1; shift
    local remaining; remaining=$(left)
    [ "$limit" -gt "$remaining" ] && limit=$remaining
    if [ "$limit" -le 5 ]; then
        echo "$name: skipped, the budget is spent" | tee -a "$log"
        return
    fi
    echo "$*" | sed "s#$B/##g; s#$out/#OUT/#g" >> "$out/commands.txt"
    local s; s=$(date +%s%N)
    timeout "$limit" "$@" > "$out/$name.out" 2>> "$log"
    local rc=$?
    echo "$name: exit $rc after $(( ($(date +%s%N) - s) / 1000000 )) ms (limit ${limit} s)" | tee -a "$log" "$out/timing.txt"
}

# Carried wheels (flash_attn, xformers) into a folder of their own, never over the environment's torch.
if ls "$root"/.carry/wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install --quiet --no-index --no-deps --target /tmp/pawl-wheels "$root"/.carry/wheels/*.whl \
        >> "$log" 2>&1 && export PYTHONPATH="/tmp/pawl-wheels:${PYTHONPATH:-}"
    echo "installed: $(ls "$root"/.carry/wheels/)" | tee -a "$log"
fi

python3 - > "$out/software.json" 2>> "$log" <<'PY'
import json, platform, subprocess
v = {"Python": platform.python_version()}
try:
    import torch
    v["PyTorch"] = torch.__version__
    v["CUDA (PyTorch)"] = torch.version.cuda
    v["cuDNN"] = str(torch.backends.cudnn.version())
except Exception as e:
    v["PyTorch"] = f"not available ({type(e).__name__})"
for name, module in [("Triton", "triton"), ("flash_attn", "flash_attn"), ("xFormers", "xformers"), ("CuPy", "cupy")]:
    try:
        v[name] = __import__(module).__version__
    except Exception as e:
        v[name] = f"not available ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})"
print(json.dumps(v, indent=1))
PY
"$B/pawl" env > "$out/env.txt" 2>&1

step 60 ceilings "$B/pawl" ceilings --refresh -o "$out/ceilings.json"
# Benches in order of importance, each with a share of what is left.
step 180 torch_sdpa "$B/pawl" run examples/sota/pawl.toml --bench torch_sdpa -o "$out/runs/torch_sdpa.json" --no-history
step 100 pawl "$B/pawl" run examples/sota/pawl.toml --bench pawl -o "$out/runs/pawl.json" --no-history
step 90 triton "$B/pawl" run examples/sota/pawl.toml --bench triton -o "$out/runs/triton.json" --no-history
step 30 flash_attn "$B/pawl" run examples/sota/pawl.toml --bench flash_attn -o "$out/runs/flash_attn.json" --no-history
step 30 xformers "$B/pawl" run examples/sota/pawl.toml --bench xformers -o "$out/runs/xformers.json" --no-history

runs=""
for bench in torch_sdpa pawl triton flash_attn xformers; do
    [ -s "$out/runs/$bench.json" ] && runs="$runs $out/runs/$bench.json"
done
args="--software $out/software.json --commands $out/commands.txt -o $out/report"
[ -s "$out/ceilings.json" ] && args="--ceilings $out/ceilings.json $args"
report_cmd=$(echo "pawl report$runs $args" | sed "s#$out/#OUT/#g")
if [ -n "$runs" ] && [ "$(left)" -gt 20 ]; then
    # shellcheck disable=SC2086
    timeout "$(left)" "$B/pawl" report $runs $args > "$out/report.out" 2>> "$log"
    echo "report: exit $?" | tee -a "$log"
fi
echo "# the report, anywhere (OUT = this folder): $report_cmd" >> "$out/commands.txt"
echo "total: $(( $(date +%s) - start )) s of ${budget} s" | tee -a "$out/timing.txt"

python3 - "$out" <<'PY' | tee "$out/summary.txt"
import glob, json, os, sys
out = sys.argv[1]
try:
    c = json.load(open(f"{out}/ceilings.json"))
    print(f"ceilings of {c['gpu_name']} (driver {c['driver_version']}):")
    for x in c["ceilings"]:
        unit = "GB/s" if x["kind"] in ("dram_copy", "dram_read", "l2_read") else "TFLOP/s"
        ratio = f"{100 * x['value'] / x['datasheet']:.0f}% of {x['datasheet']:.0f}" if x.get("datasheet") else "no datasheet figure"
        print(f"  {x['kind']:12} {x['value']:9.0f} {unit:8} [{x['low']:.0f}, {x['high']:.0f}]  {ratio}")
except (OSError, ValueError, KeyError) as e:
    print(f"ceilings: none ({type(e).__name__})")
print("bench        cases   ok  skipped  failed  wrong  timeout  min n  seconds")
for path in sorted(glob.glob(f"{out}/runs/*.json")):
    try:
        r = json.load(open(path))
    except ValueError:
        print(f"{os.path.basename(path)}: not readable (cut off?)")
        continue
    cases = r["cases"]
    count = lambda s: sum(1 for c in cases if c["status"] == s)
    ns = [len(c["samples_ns"]) for c in cases if c["status"] == "ok"]
    secs = r.get("measure_seconds") or 0
    name = os.path.basename(path)[:-5]
    print(f"{name:12} {len(cases):5} {count('ok'):4} {count('skipped'):8} {count('failed'):7} {count('wrong'):6} {count('timeout'):8} {min(ns) if ns else 0:6} {secs:8.0f}")
    reasons = {}
    for c in cases:
        if c["status"] != "ok":
            reasons.setdefault((c["status"], (c.get("error") or "")[:100]), 0)
            reasons[(c["status"], (c.get("error") or "")[:100])] += 1
    for (status, why), n in sorted(reasons.items(), key=lambda x: -x[1])[:3]:
        print(f"    {n} {status}: {why}")
PY
