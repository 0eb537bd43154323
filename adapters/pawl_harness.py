"""pawl's harness protocol for Python adapters, and GPU timing through PyTorch done the way pawl times
its own kernels.

An adapter gives three functions to `serve`:

    prepare(request) -> state     build inputs for request["params"]; raise CaseError to fail the case,
                                  Unsupported to skip a case the implementation cannot run
    check(state) -> dict          run once and compare with a reference: an answer's check fields
                                  ({"unchecked": True}, {"correctness": {...}}, or {"outputs": [...]})
    launch(state)                 enqueue one run of the timed work on the current CUDA stream

`serve` answers pawl's requests (docs/harness.md) one line each, echoing `seq`: prepare, check, time
(one sample per entry of `cases`, in that order), release. A failure of one case answers an error for it
and the loop goes on.

Timing (`TorchTimer`): per sample, the stream is held by `torch.cuda._sleep` while the sample is
enqueued, so launch latency stays outside the events; L2 is flushed clean by a read sweep over
max(256 MiB, 2 x L2) when pawl asks (a write-only flush leaves dirty lines whose write-back lands in the
timed kernel); then an event pair around the launch. One sample per hold, as pawl's own timer: samples
queued deep behind one hold read about 0.5 us more each on an H100 (docs/measurement.md).
"""

import json
import sys
import time


class CaseError(Exception):
    """A case that cannot be measured; the message is the answer's error."""


class Unsupported(Exception):
    """A case the implementation cannot run at all (not installed, a size it does not take): answered as
    `unsupported`, so the case is skipped with this reason rather than failed."""


def log(name, message):
    print(f"{name}: {message}", file=sys.stderr, flush=True)


class TorchTimer:
    """Times launches on the GPU with CUDA events, each behind a hold of the stream and an L2 flush."""

    def __init__(self, torch):
        self.torch = torch
        props = torch.cuda.get_device_properties(0)
        l2 = getattr(props, "L2_cache_size", 50 << 20)
        self.flush_buf = torch.ones(max(256 << 20, 2 * l2) // 4, device="cuda")
        self.flush_sink = torch.empty((), device="cuda")
        self.start = torch.cuda.Event(enable_timing=True)
        self.end = torch.cuda.Event(enable_timing=True)
        self.hold_cycles = 2_000_000  # ~1 ms at 2 GHz; adapted to the time enqueueing takes
        self.name = props.name

    def sample(self, launch, flush):
        torch = self.torch
        torch.cuda._sleep(self.hold_cycles)
        t0 = time.perf_counter()
        if flush:
            torch.sum(self.flush_buf, dim=0, out=self.flush_sink)
        self.start.record()
        launch()
        self.end.record()
        enqueue_s = time.perf_counter() - t0
        torch.cuda.synchronize()
        # Hold the stream 1.5x as long as enqueueing took, at an assumed 2 GHz (too long a hold costs
        # only idle time outside the events).
        self.hold_cycles = int(min(max(1.5 * enqueue_s * 2e9, 200_000), 200_000_000))
        return self.start.elapsed_time(self.end) * 1e6


def serve(name, prepare, check, launch, start_timer):
    """Answers pawl's requests on stdin until it closes. `start_timer()` makes the timer on the first
    request that needs the GPU; if it fails, every case fails with the reason and nothing crashes."""
    states = {}
    timer = None
    timer_error = None
    for number, line in enumerate(sys.stdin, 1):
        try:
            request = json.loads(line)
            seq, op = request["seq"], request["op"]
        except (ValueError, KeyError, TypeError) as e:
            log(name, f"stdin line {number} is not a request ({e}); skipped")
            continue
        reply = {}
        try:
            if op in ("prepare", "check", "time") and timer is None and timer_error is None:
                try:
                    timer = start_timer()
                    log(name, f"{timer.name}")
                except Exception as e:  # no torch, no GPU
                    timer_error = f"{name} cannot start: {type(e).__name__}: {e}"
            if op in ("prepare", "check", "time") and timer_error:
                raise CaseError(timer_error)
            if op == "prepare":
                states[request["case"]] = prepare(request)
                reply["ok"] = True
            elif op == "check":
                reply.update(check(states[request["case"]]))
            elif op == "time":
                runs = [states[case] for case in request["cases"]]
                reply["samples_ns"] = [timer.sample(lambda s=s: launch(s), request["flush"]) for s in runs]
            elif op == "release":
                states.pop(request["case"], None)
                if timer is not None:
                    timer.torch.cuda.empty_cache()
                reply["ok"] = True
            else:
                raise CaseError(f"unknown op {op!r}")
        except CaseError as e:
            reply = {"error": str(e)}
        except Unsupported as e:
            reply = {"unsupported": str(e)}
        except Exception as e:  # one case's failure must not lose the others
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            reply = {"error": f"{type(e).__name__}: {first}"}
            if timer is not None and isinstance(e, timer.torch.cuda.OutOfMemoryError):
                timer.torch.cuda.empty_cache()
        reply["seq"] = seq
        try:
            line = json.dumps(reply, allow_nan=False)
        except ValueError:  # JSON has no NaN: say so rather than print a line pawl cannot read
            line = json.dumps({"seq": seq, "error": "the answer holds a NaN or an infinity"})
        print(line, flush=True)
