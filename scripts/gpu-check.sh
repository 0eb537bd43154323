#!/usr/bin/env bash
# The figures of docs/measurement.md and docs/attention.md, measured by the `pawl` binary itself on a GPU
# machine (CUDA driver, NVRTC, ncu and python3 with torch; no Rust needed there).
#
#   scripts/gpu-check.sh --pack          # on the build machine: release binaries into .carry/main/
#   scripts/gpu-check.sh kernels         # on the GPU machine: GPU tests, the kernels suite in three
#                                        # processes, ncu
#   scripts/gpu-check.sh study           # on the GPU machine: the timing-scheme study, ncu
#   scripts/gpu-check.sh factors [N]     # on the GPU machine: what moves small kernels between
#                                        # processes, in N processes (default 8; every other with CUPTI)
#   scripts/gpu-check.sh attention       # on the GPU machine: the attention suite, pawl vs PyTorch
#   scripts/gpu-check.sh engine          # on the GPU machine: GPU tests, faults and accumulating kernels,
#                                        # examples/drift in three processes compared as run files
#   scripts/gpu-check.sh identical [N]   # on the GPU machine: N runs of `pawl ab --measure-identical`
#                                        # on examples/drift (default 9)
#   scripts/gpu-check.sh sensitivity     # on the GPU machine: the sensitivity experiment (A/A, planted)
#
# Results go under $OUT (default /tmp/pawl-device); a short table is printed last.
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.carry/main

if [ "${1:-}" = "--pack" ]; then
    set -e
    target=${CARGO_TARGET_DIR:-$root/target}
    (cd "$root" && cargo build --release -p pawl-cli -p pawl-cuda --bins --examples)
    # The test executables, by their absolute paths in cargo's JSON messages.
    tests=$(cd "$root" && cargo test --release -p pawl-cuda --no-run --message-format=json 2>/dev/null |
        grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
    rm -rf "$carry" && mkdir -p "$carry/bin"
    cp "$target/release/pawl" "$target/release/pawl-cuda-worker" "$target/release/examples/measure" \
        "$target/release/examples/timing_study" "$carry/bin/"
    for t in $tests; do
        case $(basename "$t") in
            gpu_backend-*) cp "$t" "$carry/bin/gpu_backend" ;;
            pawl_cuda-*) cp "$t" "$carry/bin/unit_tests" ;;
        esac
    done
    strip "$carry"/bin/*
    cp "$(command -v git)" "$carry/bin/"  # for `pawl ab`: the GPU image may have no git
    du -sh "$carry"
    exit 0
fi

OUT=${OUT:-/tmp/pawl-device}
mkdir -p "$OUT"
B=$carry/bin
export PAWL_CACHE=/tmp/pawl-nvrtc-cache NO_COLOR=1
# Puts the first folder holding lib$1.so.13 on the library path: the toolkit's, else the pip wheel's
# inside the Python environment.
use_lib() {
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/extras/CUPTI/lib64 \
             $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cu13", "lib") for p in nvidia.__path__))' 2>/dev/null); do
        if ls "$d/lib$1.so.13"* >/dev/null 2>&1; then export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; return; fi
    done
}
use_lib nvrtc
cd "$root"
log=$OUT/log.txt

kernels() {
    if [ "${GPU_TESTS:-1}" != 0 ]; then  # GPU_TESTS=0: the `engine` part of the same call ran them
        echo "== GPU tests" | tee -a "$log"
        PAWL_CUDA_WORKER=$B/pawl-cuda-worker PAWL_TEST_KERNELS=$root/kernels/testing \
            timeout 150 "$B/gpu_backend" --test-threads=1 --nocapture >> "$log" 2>&1
        echo "gpu_backend exit $?" | tee -a "$log"
        timeout 60 "$B/unit_tests" --test-threads=1 >> "$log" 2>&1
        echo "unit_tests exit $?" | tee -a "$log"
    fi
    "$B/pawl" env 2>&1 | tee -a "$log"
    for side in a b c; do
        echo "== pawl run examples/kernels/pawl.toml ($side)" | tee -a "$log"
        s=$(date +%s%N)
        timeout 200 "$B/pawl" run examples/kernels/pawl.toml -o "$OUT/kernels_$side.json" >> "$log" 2>&1
        echo "exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
    done
    echo "== pawl compare: the same code measured in two processes (a, b)" | tee -a "$log"
    "$B/pawl" compare "$OUT/kernels_a.json" "$OUT/kernels_b.json" 2>&1 | tee -a "$log"
    echo "== ncu on the same kernels and sizes" | tee -a "$log"
    PAWL_CLOCK=events timeout 200 ncu --clock-control none --cache-control all --metrics gpu__time_duration.sum \
        -k 'regex:^(copy_vec4|fma_chain)$' --csv \
        "$B/measure" examples/kernels/pawl.toml --bench copy,fma --launch-only 5 > "$OUT/ncu.csv" 2>> "$log"
    echo "ncu exit $?" | tee -a "$log"
    python3 scripts/device-summary.py kernels "$OUT" | tee -a "$OUT/summary.txt"
}

study() {
    use_lib cupti
    echo "== timing study: one process with CUPTI, two without" | tee -a "$log"
    {
        timeout 150 "$B/timing_study" --cupti | sed 's/^/cupti,/'
        timeout 150 "$B/timing_study" | sed 's/^/p1,/'
        timeout 150 "$B/timing_study" | sed 's/^/p2,/'
    } > "$OUT/study.csv" 2>> "$log"
    echo "study exit $?" | tee -a "$log"
    PAWL_CLOCK=events timeout 200 ncu --clock-control none --cache-control all --metrics gpu__time_duration.sum \
        -k 'regex:^(copy_vec4|fma_chain|empty)$' --csv "$B/timing_study" --launch-only > "$OUT/study_ncu.csv" 2>> "$log"
    echo "ncu exit $?" | tee -a "$log"
    python3 scripts/device-summary.py study "$OUT" | tee -a "$OUT/summary.txt"
}

factors() {
    use_lib cupti
    local procs=${1:-8}
    echo "== factor study in $procs processes" | tee -a "$log"
    for i in $(seq 1 "$procs"); do
        local flag=""
        [ $((i % 2)) -eq 0 ] && flag=--cupti
        timeout 120 "$B/timing_study" --factors $flag | sed "1!s/^/p$i,/; 1s/^/process,/" > "$OUT/factors_$i.csv" 2>> "$log"
        echo "process $i ($flag) exit $?" | tee -a "$log"
    done
    python3 scripts/device-summary.py factors "$OUT" | tee -a "$OUT/summary.txt"
}

attention() {
    echo "== pawl run examples/attention/pawl.toml" | tee -a "$log"
    s=$(date +%s%N)
    timeout 560 "$B/pawl" run examples/attention/pawl.toml -o "$OUT/attention.json" > "$OUT/attention.txt" 2>> "$log"
    echo "exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
    python3 scripts/device-summary.py attention "$OUT" | tee "$OUT/summary.txt"
}

engine() {
    echo "== GPU tests" | tee -a "$log"
    PAWL_CUDA_WORKER=$B/pawl-cuda-worker PAWL_TEST_KERNELS=$root/kernels/testing \
        timeout 150 "$B/gpu_backend" --test-threads=1 --nocapture > "$OUT/gpu_tests.txt" 2>&1
    echo "gpu_backend exit $?" | tee -a "$log"
    timeout 60 "$B/unit_tests" --test-threads=1 >> "$OUT/gpu_tests.txt" 2>&1
    echo "unit_tests exit $?" | tee -a "$log"
    "$B/pawl" env 2>&1 | tee -a "$log"
    echo "== pawl run examples/kernels/pawl.toml (faults, accumulating kernels)" | tee -a "$log"
    timeout 200 "$B/pawl" run examples/kernels/pawl.toml -o "$OUT/kernels.json" > "$OUT/kernels.txt" 2>> "$log"
    echo "exit $?" | tee -a "$log"
    for side in a b c; do
        echo "== pawl run examples/drift/pawl.toml ($side)" | tee -a "$log"
        s=$(date +%s%N)
        timeout 150 "$B/pawl" run examples/drift/pawl.toml -o "$OUT/drift_$side.json" > /dev/null 2>> "$log"
        echo "exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
    done
    for pair in ab ac bc; do
        "$B/pawl" compare "$OUT/drift_${pair:0:1}.json" "$OUT/drift_${pair:1:1}.json" --format json \
            -o "$OUT/compare_$pair.json" 2>> "$log"
    done
    python3 scripts/device-summary.py engine "$OUT" | tee -a "$OUT/summary.txt"
}

identical() {
    export PATH=$B:$PATH  # git, where the image has none
    export GIT_AUTHOR_NAME=pawl GIT_AUTHOR_EMAIL=pawl@localhost GIT_COMMITTER_NAME=pawl GIT_COMMITTER_EMAIL=pawl@localhost
    local runs=${1:-9} work
    work=$(mktemp -d /tmp/pawl-identical.XXXXXX)
    mkdir -p "$work/examples/drift" "$work/kernels/testing"
    cp examples/drift/pawl.toml "$work/examples/drift/"
    cp kernels/testing/*.cu "$work/kernels/testing/"
    (cd "$work" && git init -q . && git add -A && git commit -qm "drift suite")
    for i in $(seq 1 "$runs"); do
        s=$(date +%s%N)
        (cd "$work" && timeout 100 "$B/pawl" ab --base HEAD examples/drift/pawl.toml --measure-identical \
            --budget 12s --bootstrap-seed "$i" --format json -o "$OUT/identical_$i.json" 2>> "$log")
        echo "A/A run $i: exit $? after $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
    done
    rm -rf "$work"
    python3 scripts/device-summary.py identical "$OUT" | tee -a "$OUT/summary.txt"
}

sensitivity() {
    echo "== sensitivity (scripts/sensitivity.sh, AA_RUNS=${AA_RUNS:-2}, AB_BUDGET=${AB_BUDGET:-15s})" | tee -a "$log"
    local sens
    sens=$(mktemp -d /tmp/pawl-sens.XXXXXX)
    cp "$B/pawl" kernels/testing/planted.cu scripts/sensitivity.sh scripts/sensitivity-calibrate.sh \
        scripts/planted-suite.sh "$sens/"
    AA_RUNS=${AA_RUNS:-2} AB_BUDGET=${AB_BUDGET:-15s} OUT=$OUT/sensitivity timeout 330 bash "$sens/sensitivity.sh" \
        2>&1 | tee "$OUT/sensitivity.txt" | tail -12
}

case "${1:-}" in
    kernels) kernels ;;
    study) study ;;
    factors) factors "${2:-}" ;;
    attention) attention ;;
    engine) engine ;;
    identical) identical "${2:-}" ;;
    sensitivity) sensitivity ;;
    *) echo "usage: $0 --pack | kernels | study | factors [N] | attention | engine | identical [N] | sensitivity" >&2; exit 2 ;;
esac
