#!/usr/bin/env bash
# The history of docs/history.md, recorded on a GPU: eight real runs of examples/kernels (copy and FMA
# benches) into a fresh SQLite history, the last four after a commit that plants a 10% slowdown in the
# FMA kernels (10% more iterations); then `pawl history changes`, the trend plots and the HTML report.
# About a minute and a half of GPU time (each run about 10 s). Run from the repository root:
#
#   scripts/history-device.sh               # on the GPU machine, with release binaries in .carry/main/bin
#                                           # (scripts/gpu-check.sh --pack puts them there)
#   scripts/history-device.sh --stand-in    # anywhere: the quickstart's CPU suite stands in for the GPU,
#                                           # with target/debug/pawl unless PAWL_BIN says otherwise
#
# Results go under $OUT (default /tmp/pawl-history-device): history.sqlite, list.txt, changes.txt,
# changes.json, plots/ (SVG and PNG per case), history.html, log.txt. The runs are made in a throwaway git
# repository under $OUT/work, so each has its own commit and the change names the commit that planted it.
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/pawl-history-device}
mode=gpu
[ "${1:-}" = "--stand-in" ] && mode=stand-in
if [ "$mode" = gpu ]; then
    pawl=${PAWL_BIN:-$root/.carry/main/bin/pawl}
else
    pawl=${PAWL_BIN:-$root/target/debug/pawl}
fi
[ -x "$pawl" ] || { echo "no pawl binary at $pawl (PAWL_BIN names another)" >&2; exit 2; }
rm -rf "$OUT/work" "$OUT/plots" "$OUT/history.sqlite"*
mkdir -p "$OUT/work"
log=$OUT/log.txt
: > "$log"
export NO_COLOR=1 PAWL_HISTORY=$OUT/history.sqlite PAWL_CACHE=/tmp/pawl-nvrtc-cache
export GIT_AUTHOR_NAME=pawl GIT_AUTHOR_EMAIL=pawl@example.com GIT_COMMITTER_NAME=pawl GIT_COMMITTER_EMAIL=pawl@example.com

if [ "$mode" = gpu ]; then
    # NVRTC from the toolkit or the pip wheel, as scripts/gpu-check.sh finds it.
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cu13", "lib") for p in nvidia.__path__))' 2>/dev/null); do
        if ls "$d/libnvrtc.so.13"* >/dev/null 2>&1; then export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; break; fi
    done
    # The kernels suite without its planted faults (they fail on purpose and would only add noise),
    # half a second of measuring a case.
    mkdir -p "$OUT/work/examples/kernels" "$OUT/work/kernels"
    cp -r "$root/kernels/testing" "$OUT/work/kernels/"
    sed -e '/^# Planted faults/,$d' -e 's/^max_time_s = 2$/max_time_s = 0.5/' \
        "$root/examples/kernels/pawl.toml" > "$OUT/work/examples/kernels/pawl.toml"
    suite=examples/kernels/pawl.toml
    plant() { sed -i 's/^value = "iters"$/value = "iters + iters \/ 10"/' "$suite"; }
    planted="plant a 10% slowdown: the FMA kernels run 10% more iterations"
else
    cp "$root/examples/quickstart/pawl.toml" "$root/examples/quickstart/harness.py" "$OUT/work/"
    sed -i 's/^max_time_s = 1.0$/max_time_s = 0.2/' "$OUT/work/pawl.toml"
    suite=pawl.toml
    plant() { sed -i 's/^run = \["python3", "harness.py"\]$/run = ["env", "QUICKSTART_SLOWDOWN=1.3", "python3", "harness.py"]/' "$suite"; }
    planted="plant a 30% slowdown: the harness sums 30% more floats"
fi

cd "$OUT/work" || exit 2
git init -q -b main . && git add -A && git commit -q -m "the suite as it is"
record() {
    s=$(date +%s%N)
    timeout 120 "$pawl" run "$suite" -o "$OUT/run-$1.json" >> "$log" 2>&1
    echo "run $1 at $(git rev-parse --short=12 HEAD): exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
}
for i in 1 2 3 4; do
    git commit -q --allow-empty -m "nightly $i"
    record "$i"
done
plant
git diff --quiet && { echo "planting the slowdown changed nothing in $suite" >&2; exit 2; }
git commit -q -am "$planted"
for i in 5 6 7 8; do
    record "$i"
    git commit -q --allow-empty -m "nightly $i"
done

cd "$OUT/work" || exit 2
h=(--suite "$suite")
"$pawl" history list "${h[@]}" > "$OUT/list.txt" 2>> "$log"
"$pawl" history changes "${h[@]}" > "$OUT/changes.txt" 2>> "$log"
echo "pawl history changes: exit $? (1: a regression beyond the tolerance)" | tee -a "$log"
"$pawl" history changes "${h[@]}" --format json > "$OUT/changes.json" 2>> "$log"
"$pawl" history plot "${h[@]}" -o "$OUT/plots" >> "$log" 2>&1
"$pawl" history html "${h[@]}" -o "$OUT/history.html" >> "$log" 2>&1
echo "planted at $(git log --format=%h -1 --grep="plant") ($planted)" | tee -a "$log"
cat "$OUT/list.txt" "$OUT/changes.txt"
ls "$OUT/plots" | head -20
