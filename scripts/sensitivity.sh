#!/usr/bin/env bash
# pawl's sensitivity experiment: false alarms, power and cost of `pawl ab` (paired, interleaved) and,
# for contrast, of stored baselines (`pawl ratchet`), on kernels/testing/planted.cu.
#
#   bash scripts/sensitivity.sh --pack [DEST]   # on a Rust machine: build, collect into DEST
#                                               # (default: .carry/ab of the repository)
#   bash DEST/sensitivity.sh                    # on the GPU machine; logs and JSON under $OUT
#
# A throwaway git repository holds planted.cu and a suite of 52 cases (W waves × ITERS × REP, where
# REP only repeats a case). Its commit has SLOWDOWN_PCT = 0; the working tree then sets it to 0 (A/A),
# 0.5, 1 or 2 and `pawl ab --base HEAD` compares. A/A runs use --measure-identical (the code is the
# same, which pawl would otherwise skip). The stored-baseline contrast records a baseline in one
# process and judges fresh processes against it with `pawl ratchet --dry-run` at the same tolerance.
set -u -o pipefail

if [ "${1:-}" = "--pack" ]; then
    set -e
    root=$(git rev-parse --show-toplevel)
    dest=${2:-$root/.carry/ab}
    target=${CARGO_TARGET_DIR:-$root/target}
    (cd "$root" && cargo build --release -p pawl-cli)
    rm -rf "$dest" && mkdir -p "$dest/bin"
    cp "$target/release/pawl" "$dest/"
    strip "$dest/pawl"
    cp "$(command -v git)" "$dest/bin/"  # the GPU image may have no git
    cp "$root/kernels/testing/planted.cu" "$root/scripts/sensitivity.sh" "$root/scripts/sensitivity-calibrate.sh" \
        "$root/scripts/planted-suite.sh" "$dest/"
    echo "packed into $dest"
    exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
PAWL=$here/pawl
command -v git >/dev/null || export PATH=$here/bin:$PATH
OUT=${OUT:-$here/out}
mkdir -p "$OUT"
TOL=${TOL:-0.005}
AA_RUNS=${AA_RUNS:-4}
AB_BUDGET=${AB_BUDGET:-25s}
export GIT_AUTHOR_NAME=pawl GIT_AUTHOR_EMAIL=pawl@localhost GIT_COMMITTER_NAME=pawl GIT_COMMITTER_EMAIL=pawl@localhost

work=$(mktemp -d /tmp/pawl-sensitivity.XXXXXX)
cd "$work" || exit 2
cp "$here/planted.cu" .
. "$here/planted-suite.sh"
suite() { planted_suite "$1" "{ W = [1, 2], ITERS = [2048, 3072], REP = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }"; }
suite 0.0
git init -q . && git add -A && git commit -qm "planted, no slowdown" || exit 2
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader | tee "$OUT/gpu.txt"

ab() {  # ab NAME PCT [flags...]
    local name=$1 pct=$2
    shift 2
    suite "$pct"
    local start=$SECONDS
    timeout 120 "$PAWL" ab --base HEAD --tolerance "$TOL" --format json -o "$OUT/$name.json" "$@" \
        2> "$OUT/$name.log"
    echo "$name: exit $? in $((SECONDS - start)) s; $(grep 'measured,' "$OUT/$name.log")"
}

echo "== identical code is skipped"
ab skip 0.0
for i in $(seq 1 "$AA_RUNS"); do
    echo "== A/A $i"
    ab "aa$i" 0.0 --measure-identical --budget "$AB_BUDGET" --bootstrap-seed "$i"
done
for pct in 0.5 1.0 2.0; do
    echo "== planted $pct%"
    ab "plant$pct" "$pct" --budget "$AB_BUDGET"
done

echo "== stored baseline (pawl ratchet) for contrast"
suite 0.0
timeout 90 "$PAWL" run pawl.toml --max-time 0.3 -o base-run.json 2> "$OUT/ratchet-base.log"
"$PAWL" ratchet base-run.json --suite pawl.toml --baseline baseline.json --accept-new --format json \
    -o /dev/null 2>> "$OUT/ratchet-base.log"
for pct in 0.0 1.0; do
    suite "$pct"
    timeout 90 "$PAWL" run pawl.toml --max-time 0.3 -o "run$pct.json" 2> "$OUT/ratchet$pct.log"
    "$PAWL" ratchet "run$pct.json" --suite pawl.toml --baseline baseline.json --dry-run --tolerance "$TOL" \
        --format json -o "$OUT/ratchet$pct.json" 2>> "$OUT/ratchet$pct.log"
    echo "ratchet $pct%: exit $?"
done

python3 - "$OUT" "$AA_RUNS" <<'EOF'
import json, statistics, sys, os
out, aa_runs = sys.argv[1], int(sys.argv[2])
def load(name):
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["verdicts"]
def row(label, verdicts, planted=None):
    if verdicts is None:
        print(f"| {label} | (no result) |"); return
    kinds = [v["kind"] for v in verdicts]
    n = len(kinds)
    reg, imp = kinds.count("regressed"), kinds.count("improved")
    unch, inc = kinds.count("unchanged"), kinds.count("inconclusive")
    ratios = [v["ratio"]["point"] for v in verdicts if v.get("ratio")]
    med = f"{(statistics.median(ratios) - 1) * 100:+.2f}%" if ratios else "-"
    print(f"| {label} | {n} | {reg} | {imp} | {unch} | {inc} | {med} |")
print("| experiment | cases | regressed | improved | unchanged | inconclusive | median ratio−1 |")
print("|---|---|---|---|---|---|---|")
row("identical code (skip)", load("skip"))
aa = []
for i in range(1, aa_runs + 1):
    v = load(f"aa{i}")
    if v: aa += v
row(f"A/A paired ({aa_runs} runs)", aa or None)
for pct in ("0.5", "1.0", "2.0"):
    row(f"planted {pct}% paired", load(f"plant{pct}"))
for pct in ("0.0", "1.0"):
    row(f"planted {pct}% vs stored baseline", load(f"ratchet{pct}"))
EOF
for f in "$OUT"/*.log; do
    grep -h "time per measured case" "$f" | sed "s|^|$(basename "$f" .log): |"
done
rm -rf "$work"
