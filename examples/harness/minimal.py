#!/usr/bin/env python3
"""The smallest useful pawl harness (docs/harness.md): it times Python's `sorted` on N random floats.

pawl sends one JSON request per line; answer each with one JSON line that echoes its `seq`.
"""
import json
import random
import sys
import time

inputs = {}  # case id -> the data `prepare` made

for line in sys.stdin:
    request = json.loads(line)
    op = request["op"]
    answer = {"seq": request["seq"]}
    if op == "prepare":  # build the case's inputs from its params
        rng = random.Random(request["settings"]["seed"])
        inputs[request["case"]] = [rng.random() for _ in range(int(request["params"]["N"]))]
        answer["ok"] = True
    elif op == "check":  # run once and compare with a reference: here, the sum must not change
        data = inputs[request["case"]]
        answer["outputs"] = [{"name": "sum", "dtype": "f64", "out": [sum(sorted(data))], "reference": [sum(data)]}]
        answer["rtol"] = 1e-9
    elif op == "time":  # one sample per entry of "cases", in that order, in nanoseconds
        samples = []
        for case in request["cases"]:
            start = time.perf_counter_ns()
            sorted(inputs[case])
            samples.append(time.perf_counter_ns() - start)
        answer["samples_ns"] = samples
    elif op == "release":
        inputs.pop(request["case"], None)
        answer["ok"] = True
    else:
        answer["error"] = f"unknown op {op}"
    print(json.dumps(answer, allow_nan=False), flush=True)
