#!/usr/bin/env python3
"""Short tables from the files scripts/gpu-check.sh leaves in its output folder.

  device-summary.py kernels OUT     pawl vs ncu per case, and three processes against each other
  device-summary.py study OUT       the timing-scheme study: event and CUPTI medians against ncu
  device-summary.py factors OUT     the factor study: which thing a process owns moves its small kernels
  device-summary.py attention OUT   pawl's flash_fwd beside PyTorch's SDPA backends, per case
  device-summary.py engine OUT      statuses of the kernels suite; examples/drift in three processes:
                                    shifts between processes and the verdicts of comparing run files
  device-summary.py identical OUT   `pawl ab --measure-identical` runs: false alarms among A/A cases
"""
import csv
import json
import os
import statistics
import sys

mode, out = sys.argv[1], sys.argv[2]


def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception as e:  # a missing file is reported, not fatal: the other tables still print
        print(f"cannot read {name}: {e}")
        return {"cases": []}


def median(case):
    s = (case or {}).get("samples_ns") or []
    return statistics.median(s) if s else None


def fmt(x, d=2):
    return "-" if x is None else f"{x:.{d}f}"


def ncu_medians(name, ids):
    """Median ncu duration (ns) per id, from a CSV of 5 launches per id in `ids` order."""
    try:
        rows = [r for r in csv.reader(open(os.path.join(out, name))) if len(r) > 10]
        header, rows = rows[0], rows[1:]
        col = {n: i for i, n in enumerate(header)}
        unit = {"ns": 1, "nsecond": 1, "us": 1e3, "usecond": 1e3, "ms": 1e6, "msecond": 1e6, "s": 1e9, "second": 1e9}
        times = [float(r[col["Metric Value"]].replace(",", "")) * unit[r[col["Metric Unit"]]] for r in rows]
        return {i: statistics.median(times[5 * k:5 * k + 5]) for k, i in enumerate(ids) if times[5 * k:5 * k + 5]}
    except Exception as e:
        print(f"cannot read {name}: {e}")
        return {}


if mode == "kernels":
    runs = [load(f"kernels_{side}.json") for side in "abc"]
    a = runs[0]
    # Launch order is plan order: 5 launches per case, the copy cases, then the fma cases.
    ncu = ncu_medians("ncu.csv", [c["id"] for c in a["cases"] if c["bench"] in ("copy", "fma")])
    others = [{c["id"]: c for c in run["cases"]} for run in runs[1:]]
    print(f"GPU: {(a.get('env') or {}).get('gpu', {}).get('name')}")
    print(f"{'case':<28} {'status':<7} {'n':>5} {'pawl µs':>9} {'ncu µs':>9} {'Δ µs':>6} {'ratio':>6} "
          f"{'run B µs':>9} {'run C µs':>9} {'spread':>7}")
    for c in a["cases"]:
        m, n = median(c), ncu.get(c["id"])
        mb, mc = (median(o.get(c["id"])) for o in others)
        ms = [x for x in (m, mb, mc) if x]
        spread = (max(ms) / min(ms) - 1) * 100 if len(ms) == 3 else None
        print(f"{c['id']:<28} {c['status']:<7} {len(c['samples_ns']):>5} {fmt(m and m / 1e3):>9} "
              f"{fmt(n and n / 1e3):>9} {fmt(m and n and (m - n) / 1e3):>6} {fmt(m and n and m / n, 3):>6} "
              f"{fmt(mb and mb / 1e3):>9} {fmt(mc and mc / 1e3):>9} {fmt(spread):>6}%")
    for c in a["cases"]:
        if c["status"] != "ok":
            print(f"  {c['id']}: {c['status']}: {(c.get('error') or '')[:160]}")

elif mode == "study":
    rows = list(csv.reader(open(os.path.join(out, "study.csv"))))
    rows = [r for r in rows if len(r) == 8 and r[1] != "scheme"]
    cases = []
    for r in rows:
        if r[2] != "none" and r[2] not in cases:
            cases.append(r[2])
    ncu = ncu_medians("study_ncu.csv", cases)
    med = {(r[0], r[1], r[2]): float(r[4]) for r in rows}
    cupti = {(r[1], r[2]): float(r[5]) for r in rows if r[0] == "cupti"}
    schemes = ["hold1", "hold4", "hold16", "warm16"]
    print("event medians minus ncu (µs), processes p1 / p2 (no CUPTI); CUPTI's kernel-only medians (µs)")
    print(f"{'case':<12} {'ncu':>8} " + " ".join(f"{s:>13}" for s in schemes) + f" {'cupti hold1':>11}")
    for case in cases:
        n = ncu.get(case)
        cells = []
        for s in schemes:
            d = [med.get((p, s, case)) for p in ("p1", "p2")]
            cells.append(" / ".join(fmt(x and n and (x - n) / 1e3) for x in d))
        k = cupti.get(("hold1", case))
        print(f"{case:<12} {fmt(n and n / 1e3):>8} " + " ".join(f"{c:>13}" for c in cells) + f" {fmt(k and k / 1e3):>11}")
    for s in ("events1", "events16"):
        print(f"event pair around nothing, {s}: " + " / ".join(fmt(med.get((p, s, "none"), 0) / 1e3) for p in ("p1", "p2")) + " µs")

elif mode == "factors":
    import glob
    rows = []
    for f in sorted(glob.glob(os.path.join(out, "factors_*.csv"))):
        for r in csv.DictReader(open(f)):
            rows.append(r)
    procs = sorted({r["process"] for r in rows}, key=lambda p: int(p[1:]))
    cases = list(dict.fromkeys(r["case"] for r in rows))
    factors = list(dict.fromkeys(r["factor"] for r in rows if not r["factor"].startswith("rotate_")))
    med = {}
    for r in rows:
        med.setdefault((r["process"], r["factor"], r["case"]), []).append(float(r["event_median_ns"]))
    cupti = {}
    for r in rows:
        if r["cupti_median_ns"] not in ("NaN", "nan"):
            cupti.setdefault((r["process"], r["factor"], r["case"]), []).append(float(r["cupti_median_ns"]))

    def sd(xs):
        return statistics.pstdev(xs) if len(xs) > 1 else 0.0

    print("each process's base medians (mean of its copies) minus the median over processes, ns")
    print(f"{'process':<8} " + " ".join(f"{c:>10}" for c in cases))
    centre = {c: statistics.median(statistics.mean(med[(p, 'base', c)]) for p in procs) for c in cases}
    for p in procs:
        print(f"{p:<8} " + " ".join(f"{statistics.mean(med[(p, 'base', c)]) - centre[c]:>+10.0f}" for c in cases))
    print("\nspread of medians, ns: between processes (SD of each process's base mean), and within a")
    print("process over each factor's 6 copies (SD, averaged over processes)")
    print(f"{'':<16} " + " ".join(f"{c:>10}" for c in cases))
    print(f"{'between procs':<16} " + " ".join(f"{sd([statistics.mean(med[(p, 'base', c)]) for p in procs]):>10.1f}" for c in cases))
    for f in factors:
        print(f"{'within ' + f:<16} " + " ".join(f"{statistics.mean(sd(med[(p, f, c)]) for p in procs):>10.1f}" for c in cases))
    if cupti:
        print("\nthe same with CUPTI's kernel durations (processes run with --cupti)")
        cp = [p for p in procs if (p, "base", cases[0]) in cupti]
        print(f"{'between procs':<16} " + " ".join(f"{sd([statistics.mean(cupti[(p, 'base', c)]) for p in cp]):>10.1f}" for c in cases))
        for f in factors:
            print(f"{'within ' + f:<16} " + " ".join(f"{statistics.mean(sd(cupti[(p, f, c)]) for p in cp):>10.1f}" for c in cases))
    print("\nSD between processes of one measurement: copy 0 of base, and each factor rotated over its copies")
    print(f"{'base copy 0':<16} " + " ".join(f"{sd([med[(p, 'base', c)][0] for p in procs]):>10.1f}" for c in cases))
    for f in factors[1:]:
        key = "rotate_" + f
        print(f"{key:<16} " + " ".join(f"{sd([med[(p, key, c)][0] for p in procs if (p, key, c) in med]):>10.1f}" for c in cases))

elif mode == "attention":
    run = load("attention.json")
    benches = []
    table = {}
    for c in run["cases"]:
        if c["bench"] not in benches:
            benches.append(c["bench"])
        key = c["id"].split("/", 1)[1]
        table.setdefault(key, {})[c["bench"]] = c
    print(f"GPU: {(run.get('env') or {}).get('gpu', {}).get('name')}")
    print("case | " + " | ".join(f"{b} ms · TFLOP/s" for b in benches) + " | flash_fwd vs torch_flash")
    for key, row in table.items():
        cells = []
        for bench in benches:
            c = row.get(bench)
            m = median(c)
            if c is None:
                cells.append("")
            elif c["status"] != "ok" or m is None:
                cells.append(c["status"])
            else:
                tf = c["flops"] / m / 1e3 if c.get("flops") else None
                cells.append(f"{m / 1e6:.3f} · {fmt(tf, 0)}")
        mine, torch = median(row.get("flash_fwd")), median(row.get("torch_flash"))
        speed = f"{torch / mine:.2f}×" if mine and torch else "-"
        print(f"{key} | " + " | ".join(cells) + f" | {speed}")
    for c in run["cases"]:
        if c["status"] != "ok":
            print(f"  {c['id']}: {c['status']}: {(c.get('error') or '')[:160]}")

elif mode == "engine":
    kernels = load("kernels.json")
    print(f"GPU: {(kernels.get('env') or {}).get('gpu', {}).get('name')}")
    print("kernels suite:", ", ".join(f"{c['id'].split('/', 1)[-1] if c['bench'] == 'faults' else c['id']}: "
                                      f"{c['status']}" for c in kernels["cases"] if c["bench"] in ("faults", "histogram", "row_sums")))
    files = {side: load(f"drift_{side}.json") for side in "abc"}
    print("clock of the drift runs:", ", ".join(f"{s}: {(f.get('env') or {}).get('clock', 'events')}" for s, f in files.items()))
    runs = {side: {c["id"]: c for c in f["cases"]} for side, f in files.items()}
    ids = list(runs["a"])
    print(f"{'case':<26} {'median a µs':>11} {'b−a %':>7} {'c−a %':>7} {'spread %':>8}  verdicts ab ac bc")
    verdicts = {}
    for pair in ("ab", "ac", "bc"):
        report = load(f"compare_{pair}.json")
        verdicts[pair] = {v["id"]: v for v in report.get("verdicts", [])}
    counts = {}
    for i in ids:
        ms = [median(runs[s].get(i)) for s in "abc"]
        kinds = [verdicts[p].get(i, {}).get("kind", "-") for p in ("ab", "ac", "bc")]
        for k in kinds:
            counts[k] = counts.get(k, 0) + 1
        if all(ms):
            spread = (max(ms) / min(ms) - 1) * 100
            print(f"{i:<26} {ms[0] / 1e3:>11.2f} {(ms[1] / ms[0] - 1) * 100:>+7.2f} {(ms[2] / ms[0] - 1) * 100:>+7.2f} "
                  f"{spread:>8.2f}  {' '.join(k[:5] for k in kinds)}")
        else:
            print(f"{i:<26} {'-':>11}  {' '.join(kinds)}")
    total = sum(counts.values())
    print(f"two run files of the same code, {total} case comparisons: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    for pair in ("ab", "ac", "bc"):
        for v in verdicts[pair].values():
            if v["kind"] in ("regressed", "improved", "inconclusive"):
                print(f"  {pair} {v['id']}: {v['kind']}: {json.dumps(v.get('reason'))[:200]}")

elif mode == "identical":
    counts, times = {}, []
    runs = sorted(f for f in os.listdir(out) if f.startswith("identical_") and f.endswith(".json"))
    for name in runs:
        for v in load(name).get("verdicts", []):
            counts[v["kind"]] = counts.get(v["kind"], 0) + 1
            if v["kind"] in ("regressed", "improved", "inconclusive"):
                r = v.get("ratio") or {}
                print(f"  {name} {v['id']}: {v['kind']} ×{r.get('point', 0):.4f} [{r.get('low', 0):.4f}, {r.get('high', 0):.4f}]")
    total = sum(counts.values())
    print(f"pawl ab --measure-identical, {len(runs)} runs, {total} case comparisons: "
          + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
