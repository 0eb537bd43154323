"""A pawl harness, written by `pawl init --command`: it times summing the squares of N numbers.

pawl starts this program and writes one JSON request per line on its standard input; the harness
answers each with one JSON line on standard output (pawl's docs/harness.md has the whole protocol).
Put the code you want to measure in `work`, and a plain version you trust in `reference`.
"""

import json
import math
import random
import sys
import time


def work(data):
    """The code pawl times."""
    return sum(x * x for x in data)


def reference(data):
    """The same result computed another way: checked against `work` before any timing."""
    return math.fsum(x * x for x in data)


inputs = {}
for line in sys.stdin:
    request = json.loads(line)
    op, case, answer = request["op"], request.get("case"), {"seq": request["seq"]}
    if op == "prepare":
        rng = random.Random(request["settings"]["seed"])
        inputs[case] = [rng.gauss(0.0, 1.0) for _ in range(int(request["params"]["N"]))]
        answer["ok"] = True
    elif op == "check":
        data = inputs[case]
        answer["outputs"] = [{"name": "sum", "dtype": "f64", "out": [work(data)], "reference": [reference(data)]}]
        answer["rtol"] = 1e-9
    elif op == "time":
        samples = []
        for name in request["cases"]:
            start = time.perf_counter_ns()
            work(inputs[name])
            samples.append(time.perf_counter_ns() - start)
        answer["samples_ns"] = samples
    elif op == "release":
        inputs.pop(case, None)
        answer["ok"] = True
    else:
        answer["error"] = f"unknown op {op!r}"
    print(json.dumps(answer, allow_nan=False), flush=True)
