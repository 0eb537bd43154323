#!/usr/bin/env python3
"""A `command` harness for pawl's quickstart: it times a real CPU workload, so no GPU is needed.

It speaks pawl's harness protocol (docs/harness.md): one JSON request per line on stdin, one JSON
answer per line on stdout, each answer echoing its request's `seq`. pawl drives it — prepare a case,
check it, time it batch by batch until the median is known well enough, release it — exactly as it
drives a GPU kernel.

The workload sums N floats with Python's built-in `sum`; the check compares that sum with `math.fsum`
(exactly rounded). Set QUICKSTART_SLOWDOWN=1.2 to make it do 20% more work, and watch `pawl check`
catch the regression.
"""
import json
import math
import os
import sys
import time

SLOWDOWN = float(os.environ.get("QUICKSTART_SLOWDOWN", "1"))
cases = {}  # case id -> (data, extra work)


def answer(request):
    op = request["op"]
    if op == "prepare":
        n = int(request["params"]["N"])
        data = [float(i % 97) + 0.5 for i in range(n)]
        work = int(n * SLOWDOWN)
        cases[request["case"]] = (data, data[: work - n] if work > n else [])
        return {"ok": True}
    if op == "check":
        data, _ = cases[request["case"]]
        return {"outputs": [{"name": "sum", "dtype": "f64", "out": [sum(data)], "reference": [math.fsum(data)]}],
                "rtol": 1e-9}
    if op == "time":
        samples = []
        for case in request["cases"]:
            data, extra = cases[case]
            start = time.perf_counter_ns()
            sum(data)
            sum(extra)
            samples.append(time.perf_counter_ns() - start)
        return {"samples_ns": samples}
    if op == "release":
        cases.pop(request["case"], None)
        return {"ok": True}
    return {"error": f"unknown op {op!r}"}


for line in sys.stdin:
    request = json.loads(line)
    try:
        reply = answer(request)
    except Exception as e:  # a failed case, not a dead harness
        reply = {"error": f"{type(e).__name__}: {e}"}
    reply["seq"] = request["seq"]
    print(json.dumps(reply, allow_nan=False), flush=True)
