"""What the plugin's `request` listener costs per request, measured alone (a measurement, not
a test: figures go in notes).

    .venv/bin/python benches/plugin_listener.py

Times Locust's own `EventHook.fire` of a `request` event with the arguments Locust passes,
once with a no-op listener and once with the plugin's `Aggregator.add` added, over 10,000
log-normal response times (median 135 ms, so every bucket path runs). The difference is
what the plugin adds to each request; divide it by a saturated Locust's CPU time per request
(benches/plugin_overhead.sh prints it, about 160 µs on a 2-core VM) for the fraction of
capacity it costs. Less noisy than throughput runs, which is why both exist.
"""

import importlib.util
import pathlib
import random
import sys
import timeit

from locust.event import EventHook

here = pathlib.Path(__file__).resolve().parent
sys.argv = ["locust"]  # the plugin reads argv at import (stdout mode): keep it off
spec = importlib.util.spec_from_file_location("plugin", here.parent / "contrib" / "locust_exporter_plugin.py")
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)

random.seed(7)
times = [random.lognormvariate(-2, 0.5) * 1000 for _ in range(10_000)]


def per_request(listeners, rounds=20, repeat=5):
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
                response=None,
                url="/checkout",
                start_time=0.0,
            )

    return min(timeit.repeat(fire_all, number=rounds, repeat=repeat)) / (rounds * len(times))


def noop(**_kw):
    pass


for _ in range(3):
    base = per_request([noop])
    with_plugin = per_request([noop, plugin.Aggregator().add])
    print(
        f"request event: {base * 1e9:5.0f} ns with a no-op listener, {with_plugin * 1e9:5.0f} ns "
        f"with the plugin's listener too: the plugin adds {(with_plugin - base) * 1e9:4.0f} ns per request"
    )
