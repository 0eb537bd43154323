#!/usr/bin/env bash
# `--gpus` on a GPU machine (docs/scale.md): the same suite measured plainly and with `--gpus all` must
# agree, and where the machine has several GPUs, the throughput on 1, 2, 4… GPUs and the interference
# between them (each case's median measured alone and alongside the others), for docs/scale.md.
#
#   scripts/gpu-check.sh --pack                     # on the build machine: release binaries into .carry/main/
#   scripts/scale-device.sh [kernels|attention|both|SUITE.toml]   # on the GPU machine (default kernels)
#
# Per suite: a plain run, a `--gpus all` run, `pawl compare` of the two; then, with more than one GPU,
# runs on the first 1, 2, 4… GPUs (and all of them), handed out longest first on the plain run's times.
# On one GPU, kernels takes about 1.5 minutes. Results go under $OUT (default /tmp/pawl-scale); a short
# table is printed last.
#
# Environment: OUT; SCALING=0 skips the runs on 1, 2, 4… GPUs; GPUS overrides the GPU count that
# nvidia-smi gives; PAWL_BIN the folder of the pawl binary (default .carry/main/bin). For a dry run on a
# machine without a GPU, with the command-bench suite the tests use:
#   PAWL_BIN=target/debug GPUS=2 PAWL_FAKE_GPUS='[{"uuid":"GPU-0","name":"T"},{"uuid":"GPU-1","name":"T"}]' \
#     SCALE_LOG=/tmp/scale.log scripts/scale-device.sh crates/pawl-cli/tests/fixtures/scale/pawl.toml
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${PAWL_BIN:-$root/.carry/main/bin}
case $B in /*) ;; *) B=$root/$B ;; esac
OUT=${OUT:-/tmp/pawl-scale}
mkdir -p "$OUT"
export PAWL_CACHE=/tmp/pawl-nvrtc-cache NO_COLOR=1
# The first folder holding libnvrtc.so.13 on the library path, as scripts/gpu-check.sh finds it.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cu13", "lib") for p in nvidia.__path__))' 2>/dev/null); do
    if ls "$d/libnvrtc.so.13"* >/dev/null 2>&1; then export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; break; fi
done
cd "$root"
log=$OUT/log.txt
: > "$OUT/times.txt"

# GPUs this process may use: CUDA_VISIBLE_DEVICES's entries, else every GPU nvidia-smi lists.
if [ -n "${GPUS:-}" ]; then
    gpus=$GPUS
elif [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    gpus=$(echo "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c .)
else
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
fi
echo "== $gpus GPU(s)" | tee -a "$log"
"$B/pawl" env >> "$log" 2>&1

# measure TAG SUITE [FLAGS…]: one run into $OUT/TAG.json, its exit code and wall time in times.txt.
measure() {
    local tag=$1 suite=$2 start rc
    shift 2
    echo "== $tag: pawl run $suite $*" | tee -a "$log"
    start=$(date +%s%N)
    timeout 900 "$B/pawl" run "$suite" -o "$OUT/$tag.json" "$@" > "$OUT/$tag.txt" 2>> "$log"
    rc=$?
    echo "$tag $rc $(( ($(date +%s%N) - start) / 1000000 ))" >> "$OUT/times.txt"
    echo "exit $rc" | tee -a "$log"
}

# The first K GPUs as a --gpus list: 0,1,…,K-1.
first() { seq -s, 0 $(( $1 - 1 )); }

tags=()
suite_run() {
    local tag=$1 suite=$2 k
    measure "${tag}_plain" "$suite"
    measure "${tag}_all" "$suite" --gpus all
    "$B/pawl" compare "$OUT/${tag}_plain.json" "$OUT/${tag}_all.json" --format json \
        -o "$OUT/${tag}_compare.json" >> "$log" 2>&1
    if [ "$gpus" -gt 1 ] && [ "${SCALING:-1}" != 0 ]; then
        k=1
        while [ "$k" -le "$gpus" ]; do
            measure "${tag}_gpus$k" "$suite" --gpus "$(first "$k")" --estimates "$OUT/${tag}_plain.json"
            if [ "$k" -lt "$gpus" ] && [ $(( k * 2 )) -gt "$gpus" ]; then k=$gpus; else k=$(( k * 2 )); fi
        done
    fi
    tags+=("$tag")
}

case "${1:-kernels}" in
    kernels) suite_run kernels examples/kernels/pawl.toml ;;
    attention) suite_run attention examples/attention/pawl.toml ;;
    both) suite_run kernels examples/kernels/pawl.toml; suite_run attention examples/attention/pawl.toml ;;
    *.toml) suite_run "$(basename "$(dirname "$1")")" "$1" ;;
    *) echo "usage: $0 [kernels|attention|both|SUITE.toml]" >&2; exit 2 ;;
esac
python3 scripts/scale-summary.py "$OUT" "$gpus" "${tags[@]}" | tee "$OUT/summary.txt"
