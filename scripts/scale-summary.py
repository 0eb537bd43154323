#!/usr/bin/env python3
"""Short tables from the files scripts/scale-device.sh leaves in its output folder.

  scale-summary.py OUT GPUS TAG...

Per suite TAG: whether the plain run and the `--gpus all` run agree (the same cases in the same order,
the same statuses, no case `regressed` or `improved` in `pawl compare`, every case naming its GPU);
with several GPUs, the throughput on 1, 2, 4… GPUs (wall time, cases per second, speed-up, efficiency,
and the best wall time the cases allow: the longest case, or the total over the GPUs) and the
interference (each case's median alongside the others against alone, beside two runs alone: the
between-process noise floor).
"""
import json
import os
import statistics
import sys

out, gpus, tags = sys.argv[1], int(sys.argv[2]), sys.argv[3:]


def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception as e:  # a missing file is reported, not fatal: the other tables still print
        print(f"cannot read {name}: {e}")
        return None


def times():
    walls = {}
    try:
        for line in open(os.path.join(out, "times.txt")):
            tag, rc, ms = line.split()
            walls[tag] = (int(rc), int(ms) / 1000)
    except Exception as e:
        print(f"cannot read times.txt: {e}")
    return walls


def median(case):
    stats = case.get("stats") or {}
    if stats.get("median_ns"):
        return stats["median_ns"]
    samples = case.get("samples_ns") or []
    return statistics.median(samples) if samples else None


def by_id(run):
    return {c["id"]: c for c in (run or {}).get("cases", [])}


def shifts(alone, alongside):
    """|alongside/alone - 1| per case measured in both, largest first."""
    a, b = by_id(alone), by_id(alongside)
    out = []
    for i, c in a.items():
        m1, m2 = median(c), median(b.get(i, {}))
        if c.get("status") == "ok" and b.get(i, {}).get("status") == "ok" and m1 and m2:
            out.append((abs(m2 / m1 - 1), i))
    return sorted(out, reverse=True)


def describe(s):
    if not s:
        return "-"
    over = sum(1 for d, _ in s if d > 0.01)
    return (f"median {100 * statistics.median(d for d, _ in s):.2f}%, max {100 * s[0][0]:.2f}% ({s[0][1]}), "
            f"{over} of {len(s)} over 1%")


walls = times()
final = []
for tag in tags:
    plain, spread, report = load(f"{tag}_plain.json"), load(f"{tag}_all.json"), load(f"{tag}_compare.json")
    print(f"== {tag}: plain run vs --gpus all ({gpus} GPU{'s' if gpus != 1 else ''})")
    if not plain or not spread:
        final.append(f"{tag:<10} no result")
        continue
    ids_plain = [c["id"] for c in plain["cases"]]
    ids_spread = [c["id"] for c in spread["cases"]]
    same_ids = ids_plain == ids_spread
    p, s = by_id(plain), by_id(spread)
    status_diff = [i for i in ids_plain if i in s and p[i]["status"] != s[i]["status"]]
    located = sum(1 for c in spread["cases"] if c.get("gpu_uuid"))
    summary = (report or {}).get("summary", {})
    moved = summary.get("regressed", 0) + summary.get("improved", 0)
    within = both = 0
    for i in ids_plain:
        a, b = p[i], s.get(i, {})
        if a.get("status") == "ok" and b.get("status") == "ok" and a.get("stats") and b.get("stats"):
            both += 1
            within += (b["stats"]["ci_low_ns"] <= a["stats"]["median_ns"] <= b["stats"]["ci_high_ns"]
                       or a["stats"]["ci_low_ns"] <= b["stats"]["median_ns"] <= a["stats"]["ci_high_ns"])
    agree = same_ids and not status_diff and moved == 0 and report is not None
    print(f"cases: {len(ids_plain)} plain, {len(ids_spread)} spread, same ids in the same order: {same_ids}")
    print(f"statuses that differ: {status_diff or 'none'}")
    print(f"cases naming their GPU in the spread run: {located} of {len(ids_spread)}")
    print(f"pawl compare plain → spread: {', '.join(f'{v} {k}' for k, v in summary.items() if k in ('regressed', 'improved', 'unchanged', 'inconclusive', 'failed', 'new', 'missing') and v) or 'no report'}")
    print(f"medians within the other run's 99% interval: {within} of {both}")
    print(f"{'case':<34} {'status':<15} {'plain µs':>10} {'spread µs':>10} {'ratio':>7}  GPU")
    for i in ids_plain:
        a, b = p[i], s.get(i, {})
        m1, m2 = median(a), median(b)
        ratio = f"{m2 / m1:.4f}" if m1 and m2 else "-"
        status = a["status"] if a["status"] == b.get("status") else f"{a['status']}/{b.get('status')}"
        shown = lambda m: f"{m / 1000:.2f}" if m else "-"
        print(f"{i[:34]:<34} {status:<15} {shown(m1):>10} {shown(m2):>10} {ratio:>7}  {(b.get('gpu_uuid') or '-')[:12]}")

    counts = sorted(int(n[len(tag) + 5:-5]) for n in os.listdir(out)
                    if n.startswith(f"{tag}_gpus") and n.endswith(".json"))
    line = f"{tag:<10} {gpus} GPU  agree: {'yes' if agree else 'NO'} ({len(ids_plain)} cases, {moved} moved)"
    if counts:
        print(f"== {tag}: throughput on 1…{counts[-1]} GPUs (cases handed out longest first)")
        print(f"{'GPUs':>4} {'wall s':>8} {'cases/s':>8} {'speed-up':>9} {'efficiency':>10} {'busy s':>8} "
              f"{'best s':>7} {'GPUs used':>9} {'statuses':>9}")
        base = None
        for k in counts:
            run = load(f"{tag}_gpus{k}.json")
            rc, wall = walls.get(f"{tag}_gpus{k}", (None, None))
            if not run or not wall:
                continue
            elapsed = [c.get("elapsed_s") or 0 for c in run["cases"]]
            busy = sum(elapsed)
            best = max(max(elapsed, default=0), busy / k)
            base = base or wall
            used = len({c.get("gpu_uuid") for c in run["cases"]})
            same = all(by_id(run).get(i, {}).get("status") == p[i]["status"] for i in ids_plain)
            print(f"{k:>4} {wall:>8.1f} {len(run['cases']) / wall:>8.2f} {base / wall:>9.2f} "
                  f"{base / wall / k:>10.2f} {busy:>8.1f} {best:>7.1f} {used:>9} {'same' if same else 'DIFFER':>9}")
        top = counts[-1]
        alone, alongside = load(f"{tag}_gpus1.json"), load(f"{tag}_gpus{top}.json")
        if alone and alongside and top > 1:
            print(f"== {tag}: interference, each case's median on {top} GPUs at once against alone (1 GPU)")
            print(f"alongside vs alone: {describe(shifts(alone, alongside))}")
            print(f"alone vs alone (plain run vs 1 GPU, the noise floor between processes): "
                  f"{describe(shifts(plain, alone))}")
            for d, i in shifts(alone, alongside)[:5]:
                print(f"  {i}: {100 * d:.2f}%")
            if f"{tag}_gpus1" in walls and f"{tag}_gpus{top}" in walls:
                speed = walls[f"{tag}_gpus1"][1] / walls[f"{tag}_gpus{top}"][1]
                line += f"; {top} GPUs: ×{speed:.2f} ({speed / top:.2f} of linear)"
            worst = shifts(alone, alongside)
            floor = shifts(plain, alone)
            if worst:
                line += f", interference max {100 * worst[0][0]:.2f}% (alone twice: {100 * floor[0][0]:.2f}%)" if floor else ""
    final.append(line)

print("== summary")
for line in final:
    print(line)
