#!/usr/bin/env bash
# pawl's GPU check, run on the device machine (it has CUDA, ncu and python3, no Rust):
#   bash scripts/gpu-check.sh [CARRY]
# CARRY (default .carry) holds what `scripts/gpu-check.sh --pack` built on a Rust machine: the release
# binaries (measure, pawl-cuda-worker, the GPU test binary, the unit tests), kernels/testing and
# examples/kernels. Steps: (1) the GPU tests, (2) the example suite measured twice in two processes
# (repeatability) with planted faults in the first, (3) the same kernels timed by Nsight Compute
# (`ncu --clock-control none --cache-control all`, gpu__time_duration.sum) for fidelity, (4) a table.
# Everything lands under $OUT; the short table is printed last.
set -u -o pipefail

if [ "${1:-}" = "--pack" ]; then
    # On the build machine: build and collect what the device needs into .carry/.
    set -e
    root=$(git rev-parse --show-toplevel)
    target=${CARGO_TARGET_DIR:-$root/target}
    (cd "$root" && cargo build --release -p pawl-cuda --examples --bins)
    tests=$(cd "$root" && cargo test --release -p pawl-cuda --no-run 2>&1 | grep -o "$target/release/deps/[a-z_]*-[0-9a-f]*")
    rm -rf "$root/.carry" && mkdir -p "$root/.carry/bin" "$root/.carry/kernels" "$root/.carry/examples"
    cp "$target/release/examples/measure" "$target/release/pawl-cuda-worker" "$root/.carry/bin/"
    for t in $tests; do
        case $(basename "$t") in
            gpu_backend-*) cp "$t" "$root/.carry/bin/gpu_backend" ;;
            pawl_cuda-*) cp "$t" "$root/.carry/bin/unit_tests" ;;
        esac
    done
    strip "$root"/.carry/bin/*  # debug line tables would not fit the 64 MiB the device call carries
    cp -r "$root/kernels/testing" "$root/.carry/kernels/"
    cp -r "$root/examples/kernels" "$root/.carry/examples/"
    cp "$root/scripts/gpu-check.sh" "$root/.carry/"
    du -sh "$root/.carry"
    exit 0
fi

C=$(cd "${1:-.carry}" && pwd)
OUT=${OUT:-/tmp/pawl-gpu-check}
mkdir -p "$OUT"
export PAWL_CACHE=/tmp/pawl-nvrtc-cache
# NVRTC 13: the toolkit's, else the pip wheel's inside the Python environment.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cu13", "lib") for p in nvidia.__path__))' 2>/dev/null); do
    if ls "$d"/libnvrtc.so.13* >/dev/null 2>&1; then export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; break; fi
done
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/measure.log"

start=$(date +%s)
echo "== 1. GPU tests"
PAWL_CUDA_WORKER=$C/bin/pawl-cuda-worker PAWL_TEST_KERNELS=$C/kernels/testing \
    timeout 150 "$C/bin/gpu_backend" --test-threads=1 --nocapture > "$OUT/gpu_tests.log" 2>&1
echo "gpu_backend exit $?" | tee -a "$OUT/gpu_tests.log"
timeout 60 "$C/bin/unit_tests" --test-threads=1 >> "$OUT/gpu_tests.log" 2>&1
echo "unit_tests exit $?" | tee -a "$OUT/gpu_tests.log"
grep -E "^test |test result" "$OUT/gpu_tests.log"

suite=$C/examples/kernels/pawl.toml
echo "== 2. the suite, twice (run A with faults, run B without)"
timeout 240 "$C/bin/measure" "$suite" --out "$OUT/run_a.json" --worker "$C/bin/pawl-cuda-worker" >> "$OUT/measure.log" 2>&1
echo "run A exit $?" | tee -a "$OUT/measure.log"
timeout 150 "$C/bin/measure" "$suite" --bench copy,fma --out "$OUT/run_b.json" --worker "$C/bin/pawl-cuda-worker" >> "$OUT/measure.log" 2>&1
echo "run B exit $?" | tee -a "$OUT/measure.log"

echo "== 3. Nsight Compute on the same kernels and sizes"
timeout 200 ncu --clock-control none --cache-control all --metrics gpu__time_duration.sum \
    -k 'regex:^(copy_vec4|fma_chain)$' --csv \
    "$C/bin/measure" "$suite" --bench copy,fma --launch-only 5 > "$OUT/ncu.csv" 2>> "$OUT/measure.log"
echo "ncu exit $?" | tee -a "$OUT/measure.log"
echo "device wall time of steps 1-3: $(( $(date +%s) - start )) s" | tee -a "$OUT/measure.log"

rm -f "$OUT/run_b.wall.json"  # the device returns at most 8 files
echo "== 4. summary"
python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import csv, json, statistics, sys, os
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception as e:
        print(f"cannot read {name}: {e}"); return None
a, b = load("run_a.json"), load("run_b.json")
wall_a = load("run_a.wall.json") or {}
ncu = {}
try:
    rows = [r for r in csv.reader(open(os.path.join(out, "ncu.csv"))) if len(r) > 10]
    header, rows = rows[0], rows[1:]
    col = {n: i for i, n in enumerate(header)}
    scale = {"ns": 1, "nsecond": 1, "us": 1e3, "usecond": 1e3, "ms": 1e6, "msecond": 1e6, "s": 1e9, "second": 1e9}
    times = [(r[col["Kernel Name"]], float(r[col["Metric Value"]].replace(",", "")) * scale[r[col["Metric Unit"]]]) for r in rows]
    # Launch order is plan order: 5 launches per case, copy cases then fma cases.
    ids = [c["id"] for c in (a or {"cases": []})["cases"] if c["bench"] in ("copy", "fma")]
    for i, cid in enumerate(ids):
        chunk = [t for _, t in times[5 * i:5 * i + 5]]
        if chunk: ncu[cid] = statistics.median(chunk)
except Exception as e:
    print(f"cannot read ncu.csv: {e}")
def med(case):
    s = case.get("samples_ns") or []
    return statistics.median(s) if s else float("nan")
bcases = {c["id"]: c for c in (b or {"cases": []})["cases"]}
print(f"GPU: {(a or {}).get('env', {}).get('gpu', {}).get('name')}")
print(f"{'case':<28} {'status':<7} {'n':>5} {'pawl us':>10} {'ncu us':>10} {'pawl-ncu':>9} {'ratio':>7} {'run B us':>10} {'A/B-1':>7} {'wall s':>7}")
for c in (a or {"cases": []})["cases"]:
    m = med(c); n = ncu.get(c["id"]); bb = bcases.get(c["id"])
    mb = med(bb) if bb else float("nan")
    fmt = lambda x, d=2: "-" if x is None or x != x else f"{x:.{d}f}"
    print(f"{c['id']:<28} {c['status']:<7} {len(c['samples_ns']):>5} {fmt(m/1e3):>10} {fmt(n/1e3 if n else None):>10} "
          f"{fmt((m-n)/1e3 if n else None):>9} {fmt(m/n if n else None, 3):>7} {fmt(mb/1e3):>10} "
          f"{fmt((m/mb-1)*100 if bb else None):>6}% {wall_a.get(c['id'], float('nan')):>7.2f}")
for c in (a or {"cases": []})["cases"]:
    if c["bench"] == "faults" or c["status"] != "ok" or c.get("error"):
        print(f"  {c['id']}: {c['status']}: {(c.get('error') or '')[:150]}")
PY
