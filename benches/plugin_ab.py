"""Locustfile for benches/plugin_ab.sh (a measurement, not a test): one saturated Locust run
(FastHttpUser, no wait) in which the plugin's `request` listener is switched on and off
every PHASE seconds (AB_PHASE, default 1). An "on" phase ends with the plugin's flush, so
it pays for the batches of its own requests. Each on phase is compared with the mean of
the off phases either side of it, which cancels the machine's slow drifts (the noise that
makes separate runs differ by several per cent); the first 3 s are left out as warm-up.

At exit it prints two lines on stderr:

    AB requests/s: on … off …  cost mean …% ± …% (s.e.), median …%, n …
    AB CPU µs/request: on … off …  cost mean …% ± …% (s.e.), median …%, n …

Requests/s is what the plugin costs a saturated worker; CPU time per request (the
process's own, from `time.process_time`) is the same cost seen without the target's share
of the machine.
"""
import os
import statistics
import sys
import time

import gevent
from locust import FastHttpUser, constant, events, task

PHASE = float(os.environ.get("AB_PHASE", "1.0"))
WARM_UP = 3.0
_count = [0]
_phases = []  # (on, requests/s, CPU µs/request)


class Saturate(FastHttpUser):
    wait_time = constant(0)

    @task
    def healthy(self):
        self.client.get("/-/healthy")


def _counted(**_kw):
    _count[0] += 1


def _costs(values, higher_is_cost):
    """Each on phase against the mean of its two off neighbours, in per cent."""
    out = []
    for k in range(1, len(values) - 1):
        on, value = values[k]
        if on:
            off = (values[k - 1][1] + values[k + 1][1]) / 2
            out.append(100 * (value / off - 1) if higher_is_cost else 100 * (1 - value / off))
    return out


def _report(label, values, higher_is_cost, unit):
    costs = _costs(values, higher_is_cost)
    if len(costs) < 2:
        print(f"AB {label}: too few phases ({len(values)}): run longer", file=sys.stderr)
        return
    on = statistics.mean(v for o, v in values if o)
    off = statistics.mean(v for o, v in values if not o)
    se = statistics.stdev(costs) / len(costs) ** 0.5
    print(
        f"AB {label}: on {on:.1f} off {off:.1f} {unit}  cost mean {statistics.mean(costs):.2f}% ± {se:.2f}% (s.e.), "
        f"median {statistics.median(costs):.2f}%, n {len(costs)}",
        file=sys.stderr,
    )


@events.init.add_listener
def _init(environment, **_kw):
    hook = environment.events.request
    hook.add_listener(_counted)
    plugin = sys.modules["locust_exporter_plugin"]
    listener = plugin._aggregator.add

    def toggle():
        gevent.sleep(WARM_UP)
        on = True
        while True:
            if on:
                hook.add_listener(listener)
            c0, t0, p0 = _count[0], time.perf_counter(), time.process_time()
            gevent.sleep(PHASE)
            if on:
                hook.remove_listener(listener)
                plugin._flush()
            n = max(_count[0] - c0, 1)
            _phases.append((on, n / (time.perf_counter() - t0), (time.process_time() - p0) / n * 1e6))
            on = not on

    # The plugin adds its listener on init; the toggle owns it from the start.
    hook.remove_listener(listener)
    environment.events.test_start.add_listener(lambda **_kw: gevent.spawn(toggle))

    @environment.events.quitting.add_listener
    def _quit(**_kw):
        _report("requests/s", [(o, r) for o, r, _ in _phases], False, "/s")
        _report("CPU µs/request", [(o, c) for o, _, c in _phases], True, "µs")
