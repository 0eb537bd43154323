#!/usr/bin/env bash
# The figures of docs/tuning.md, measured by the `pawl` binary on a GPU machine (CUDA driver and NVRTC;
# no Rust needed there), each part sized by its arguments:
#
#   scripts/tune-device.sh --pack                     # on the build machine: release binaries into .carry/main/
#   scripts/tune-device.sh tune 2m ['WHERE']          # pawl tune on examples/attention's flash_fwd within 2 min
#   scripts/tune-device.sh exhaustive 3m ['WHERE']    # record every configuration of one case (at most 256
#                                                     # samples each: the replay tests' recording), then
#                                                     # replay it at 25% of its time with 8 seeds
#   scripts/tune-device.sh stability 8 20s ['WHERE']  # 8 fresh tunes of one case, 20 s each: the winner's stability
#   scripts/tune-device.sh all                        # tune 2m, exhaustive 3m, stability 8 x 20s (about 8 min)
#
# Results go under $OUT (default /tmp/pawl-device); a short table is printed last (and kept in
# $OUT/tune-summary.txt). The NVRTC cache (PAWL_CACHE) is shared by the parts, as CI shares it between
# runs: only the first part compiles a configuration.
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.carry/main

if [ "${1:-}" = "--pack" ]; then
    exec "$root/scripts/gpu-check.sh" --pack
fi

OUT=${OUT:-/tmp/pawl-device}
mkdir -p "$OUT"
B=${PAWL_BIN:-$carry/bin}
export PAWL_CACHE=${PAWL_CACHE:-/tmp/pawl-nvrtc-cache} NO_COLOR=1
use_lib() {
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cu13", "lib") for p in nvidia.__path__))' 2>/dev/null); do
        if ls "$d/lib$1.so.13"* >/dev/null 2>&1; then export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; return; fi
    done
}
use_lib nvrtc
cd "$root"
log=$OUT/tune-log.txt
suite=examples/attention/pawl.toml

# Four cases: both head dimensions, with and without the causal mask, at B=4 H=16 S=2048 f16.
TUNE_WHERE='B == 4 && H == 16 && S == 2048 && dtype == "f16"'
# One case of 69 configurations (D = 128).
EXHAUSTIVE_WHERE='B == 4 && H == 16 && S == 2048 && D == 128 && !causal && dtype == "f16"'
# The seed's case, 90 configurations (D = 64).
STABILITY_WHERE='B == 32 && H == 8 && S == 512 && D == 64 && !causal && dtype == "f16"'

# Seconds of a budget written 90s, 3m or 120, for the shell's timeout (with room for writing outputs).
seconds() {
    case $1 in
        *ms) echo 1 ;;
        *s) echo "${1%s}" ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *) echo "$1" ;;
    esac | cut -d. -f1
}

tune() {
    local budget=${1:-2m} where=${2:-$TUNE_WHERE}
    echo "== pawl tune $suite --bench flash_fwd --where '$where' --budget $budget" | tee -a "$log"
    s=$(date +%s%N)
    timeout $(( $(seconds "$budget") + 120 )) "$B/pawl" tune "$suite" --bench flash_fwd --where "$where" \
        --budget "$budget" --out-dir "$OUT/tune" > "$OUT/tune.txt" 2>> "$log"
    echo "exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
}

exhaustive() {
    local budget=${1:-3m} where=${2:-$EXHAUSTIVE_WHERE}
    echo "== pawl tune --exhaustive --where '$where' --budget $budget" | tee -a "$log"
    # An empty NVRTC cache: the recording's setup times include the compiles, as a first tune's do.
    rm -rf "$OUT/nvrtc-exhaustive"
    s=$(date +%s%N)
    PAWL_CACHE=$OUT/nvrtc-exhaustive timeout $(( $(seconds "$budget") + 120 )) "$B/pawl" tune "$suite" --bench flash_fwd --where "$where" \
        --exhaustive --fresh --max-samples 256 --budget "$budget" --out-dir "$OUT/exhaustive" \
        > "$OUT/exhaustive.txt" 2>> "$log"
    echo "exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
    echo "== pawl tune --replay (25% of the exhaustive time, 8 seeds)" | tee -a "$log"
    for seed in 0 1 2 3 4 5 6 7; do
        "$B/pawl" tune --replay "$OUT/exhaustive/tuning.json" --budget 25% --seed "$seed" \
            --out-dir "$OUT/replay/$seed" /nonexistent.toml > /dev/null 2>> "$log"
    done
}

stability() {
    local runs=${1:-8} budget=${2:-20s} where=${3:-$STABILITY_WHERE}
    echo "== $runs fresh tunes of '$where', $budget each (one more first, not counted, to fill the NVRTC cache)" | tee -a "$log"
    for i in $(seq 0 "$runs"); do
        timeout $(( $(seconds "$budget") + 120 )) "$B/pawl" tune "$suite" --bench flash_fwd --where "$where" \
            --fresh --budget "$budget" --out-dir "$OUT/stability/$i" > /dev/null 2>> "$log"
        echo "run $i exit $?" | tee -a "$log"
    done
}

summary() {
    python3 - "$OUT" <<'PY' | tee "$OUT/tune-summary.txt"
import glob, json, os, statistics, sys
out = sys.argv[1]

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None

def config(case, i):
    return ",".join(f"{k}={v}" for k, v in case["space"]["configs"][i].items())

def median(xs):
    return statistics.median(xs) if xs else float("nan")

def samples(case, i):
    return [s for v in case["visits"] for m in v["measurements"] if m["config"] == i and m["outcome"] == "timed" for s in m["samples_ns"]]

def interval(d):
    s = d.get("speedup")
    return f"x{s['point']:.3f} [{s['low']:.3f}, {s['high']:.3f}]" if s else "-"

t = load(f"{out}/tune/tuning.json")
if t:
    print(f"tune ({t['spent_s']:.0f} s of {t['search']['budget_s']:.0f} s): case | suggestion | speed-up (99% CI) | ties | measured")
    for c in t["cases"]:
        d = c["decision"]
        measured = {m["config"] for v in c["visits"] for m in v["measurements"] if m["outcome"] != "not_measured"}
        print(f"  {c['id']} | {config(c, d['suggested'])} | {d['basis']['kind']} {interval(d)} | {len(d['ties'])} | {len(measured)}/{len(c['space']['configs'])}")

e = load(f"{out}/exhaustive/tuning.json")
if e:
    for c in e["cases"]:
        timed = {i: median(samples(c, i)) for i in range(len(c["space"]["configs"])) if samples(c, i)}
        rejected = {m["config"] for v in c["visits"] for m in v["measurements"] if m["outcome"] == "rejected"}
        best = min(timed, key=timed.get) if timed else None
        default = c["space"]["default"]
        print(f"exhaustive {c['id']}: {len(timed)} timed, {len(rejected)} rejected of {len(c['space']['configs'])} in {c['spent_s']:.0f} s")
        if best is not None and default in timed:
            print(f"  best {config(c, best)} {timed[best]/1e3:.1f} us; default {timed[default]/1e3:.1f} us (x{timed[default]/timed[best]:.3f})")
    reached, spent = [], []
    for path in sorted(glob.glob(f"{out}/replay/*/tuning.json")):
        r = load(path)
        for c in (r or {}).get("cases", []):
            a = c.get("against_exhaustive")
            if a:
                reached.append(a["best_ns"] / a["found_ns"])
                spent.append(c["spent_s"] / a["exhaustive_s"])
    if reached:
        print(f"  replay at 25%, {len(reached)} seeds: reached {100*statistics.mean(reached):.1f}% of the best's speed "
              f"(worst {100*min(reached):.1f}%), using {100*statistics.mean(spent):.1f}% of the exhaustive time")

runs = []
for path in sorted(glob.glob(f"{out}/stability/*/tuning.json"), key=lambda p: int(p.split("/")[-2])):
    if path.split("/")[-2] == "0":
        continue  # filled the NVRTC cache
    r = load(path)
    if r and r["cases"]:
        c = r["cases"][0]
        d = c["decision"]
        runs.append((config(c, d["suggested"]), tuple(sorted(config(c, i) for i in d["ties"])), interval(d)))
if runs:
    winners = [w for w, _, _ in runs]
    ties = [t for _, t, _ in runs]
    top = max(set(winners), key=winners.count)
    top_ties = max(set(ties), key=ties.count)
    print(f"stability: the same suggestion in {winners.count(top)} of {len(runs)} fresh runs ({top}); "
          f"the same tie set in {ties.count(top_ties)} of {len(runs)}")
    for i, (w, t, s) in enumerate(runs, 1):
        print(f"  run {i}: {w} {s} ties {len(t)}")
PY
}

case "${1:-}" in
    tune) tune "${2:-2m}" "${3:-$TUNE_WHERE}"; summary ;;
    exhaustive) exhaustive "${2:-3m}" "${3:-$EXHAUSTIVE_WHERE}"; summary ;;
    stability) stability "${2:-8}" "${3:-20s}" "${4:-$STABILITY_WHERE}"; summary ;;
    all) tune 2m; exhaustive 3m; stability 8 20s; summary ;;
    summary) summary ;;
    *) echo "usage: $0 --pack | tune [BUDGET [WHERE]] | exhaustive [BUDGET [WHERE]] | stability [RUNS [BUDGET [WHERE]]] | all | summary" >&2; exit 2 ;;
esac
