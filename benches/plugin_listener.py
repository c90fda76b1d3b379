"""What the plugin costs per request, measured alone (a measurement, not a test: figures go
in notes).

    .venv/bin/python benches/plugin_listener.py [OTHER_PLUGIN.py]

Times Locust's own `EventHook.fire` of a `request` event with the arguments Locust passes,
once with a no-op listener and once with the plugin's `Aggregator.add` added, over 6,500
log-normal response times (median 135 ms, spread over ~500 histogram buckets), ending with
the plugin's flush of those requests (`Aggregator.lines`): 6,500 is about one second of a
saturated worker, so the flush's share per request is what it is in a real run. The
difference is what the plugin adds to each request, split into the listener and the flush;
divide it by a saturated Locust's CPU time per request (benches/plugin_overhead.sh prints it,
about 155 µs on a 2-core VM) for the fraction of capacity it costs. Less noisy than
throughput runs, which is why both exist. With a path, another version of the plugin (e.g.
an earlier one from git) is timed beside this one. Each request has a response whose request
carries no `traceparent` (TRACED=1: each carries one, and the plugin keeps exemplars).
"""

import importlib.util
import pathlib
import random
import sys
import timeit

from locust.event import EventHook

here = pathlib.Path(__file__).resolve().parent
sys.argv, others = ["locust"], sys.argv[1:]  # the plugin reads argv at import (stdout mode): keep it off


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugins = [("this plugin", load(here.parent / "contrib" / "locust_exporter_plugin.py", "plugin"))]
plugins += [(path, load(path, f"other{i}")) for i, path in enumerate(others)]

class _Request:
    """What a requests `Response.request` holds: the headers sent (no `traceparent` unless
    the run is traced: TRACED=1 sends one with every request)."""

    def __init__(self, traced):
        self.headers = {"User-Agent": "python-requests/2.32", "Accept": "*/*"}
        if traced:
            self.headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class _Response:
    def __init__(self, traced):
        self.request = _Request(traced)


import os  # noqa: E402

RESPONSE = _Response(os.environ.get("TRACED") == "1")

random.seed(7)
times = [random.lognormvariate(-2, 0.5) * 1000 for _ in range(6_500)]


def per_request(listeners, flush=None, rounds=20, repeat=5):
    hook = EventHook()
    for listener in listeners:
        hook.add_listener(listener)

    def fire_all():
        for t in times:
            hook.fire(
                request_type="GET",
                name="/checkout",
                response_time=t,
                response_length=1024,
                exception=None,
                context={},
                response=RESPONSE,
                url="/checkout",
                start_time=0.0,
            )
        if flush is not None:
            flush()

    return min(timeit.repeat(fire_all, number=rounds, repeat=repeat)) / (rounds * len(times))


def noop(**_kw):
    pass


for _ in range(3):
    base = per_request([noop])
    figures = []
    for label, plugin in plugins:
        aggregator = plugin.Aggregator()
        listener = per_request([noop, aggregator.add], aggregator.lines) - base
        aggregator = plugin.Aggregator()
        alone = per_request([noop, aggregator.add]) - base  # no flush: the lists just grow
        aggregator.lines()
        figures.append(f"{label}: {listener * 1e9:4.0f} ns ({alone * 1e9:4.0f} listener + {(listener - alone) * 1e9:4.0f} flush)")
    print(f"request event {base * 1e9:4.0f} ns with a no-op listener; per request, " + "; ".join(figures))
