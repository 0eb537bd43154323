#!/usr/bin/env python3
"""Short tables from the files scripts/gpu-check.sh leaves in its output folder.

  device-summary.py kernels OUT     pawl vs ncu per case, and two processes against each other
  device-summary.py attention OUT   pawl's flash_fwd beside PyTorch's SDPA backends, per case
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


if mode == "kernels":
    a, b = load("kernels_a.json"), load("kernels_b.json")
    ncu = {}
    try:
        rows = [r for r in csv.reader(open(os.path.join(out, "ncu.csv"))) if len(r) > 10]
        header, rows = rows[0], rows[1:]
        col = {n: i for i, n in enumerate(header)}
        unit = {"ns": 1, "nsecond": 1, "us": 1e3, "usecond": 1e3, "ms": 1e6, "msecond": 1e6, "s": 1e9, "second": 1e9}
        times = [float(r[col["Metric Value"]].replace(",", "")) * unit[r[col["Metric Unit"]]] for r in rows]
        # Launch order is plan order: 5 launches per case, the copy cases, then the fma cases.
        ids = [c["id"] for c in a["cases"] if c["bench"] in ("copy", "fma")]
        for i, cid in enumerate(ids):
            chunk = times[5 * i:5 * i + 5]
            if chunk:
                ncu[cid] = statistics.median(chunk)
    except Exception as e:
        print(f"cannot read ncu.csv: {e}")
    bcases = {c["id"]: c for c in b["cases"]}
    print(f"GPU: {(a.get('env') or {}).get('gpu', {}).get('name')}")
    print(f"{'case':<28} {'status':<7} {'n':>5} {'pawl µs':>9} {'ncu µs':>9} {'Δ µs':>6} {'ratio':>6} "
          f"{'run B µs':>9} {'A/B−1':>7}")
    for c in a["cases"]:
        m, n, mb = median(c), ncu.get(c["id"]), median(bcases.get(c["id"]))
        print(f"{c['id']:<28} {c['status']:<7} {len(c['samples_ns']):>5} {fmt(m and m / 1e3):>9} "
              f"{fmt(n and n / 1e3):>9} {fmt(m and n and (m - n) / 1e3):>6} {fmt(m and n and m / n, 3):>6} "
              f"{fmt(mb and mb / 1e3):>9} {fmt(m and mb and (m / mb - 1) * 100):>6}%")
    for c in a["cases"]:
        if c["status"] != "ok":
            print(f"  {c['id']}: {c['status']}: {(c.get('error') or '')[:160]}")

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
