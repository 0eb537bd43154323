#!/usr/bin/env python3
"""A `command` harness for pawl's quickstart: it times a real CPU workload, so no GPU is needed.

It speaks pawl's harness protocol: one JSON request per line on stdin, one JSON answer per line on
stdout. The workload sums N floats with Python's built-in `sum`; set QUICKSTART_SLOWDOWN=1.2 to make it
do 20% more work, and watch `pawl check` catch the regression.
"""
import json
import os
import sys
import time


def measure(n, settings):
    data = [float(i % 97) for i in range(n)]
    work = int(n * float(os.environ.get("QUICKSTART_SLOWDOWN", "1")))
    extra = data[: work - n] if work > n else []
    samples = []
    start = time.perf_counter()
    # Warm up for the time pawl asks, then sample until the time cap or the sample limit.
    while (time.perf_counter() - start) * 1e3 < settings["warmup_ms"]:
        sum(data)
    budget_end = time.perf_counter() + min(settings["max_time_s"], 1.0)
    while len(samples) < settings["max_samples"]:
        t0 = time.perf_counter_ns()
        sum(data)
        sum(extra)
        samples.append(time.perf_counter_ns() - t0)
        if len(samples) >= max(settings["min_samples"], 200) and time.perf_counter() > budget_end:
            break
    return samples


for line in sys.stdin:
    request = json.loads(line)
    n = int(request["params"]["N"])
    answer = {"case": request["case"], "samples_ns": measure(n, request["settings"]), "error": None}
    print(json.dumps(answer), flush=True)
