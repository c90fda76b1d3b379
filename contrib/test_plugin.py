"""Unit tests of the plugin's lines (run with the venv's Python; see test.sh).

They check that each `requests` line is valid JSON with the fields docs/events.md ("Batches")
documents, that its sums are exactly Locust's, that its histogram buckets hold the times,
and that error texts are Locust's own.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))

# Imported as a library here: keep the test runner's own stdout.
os.environ["LOCUST_EXPORTER_EVENTS"] = os.devnull
import locust_exporter_plugin as plugin  # noqa: E402

del os.environ["LOCUST_EXPORTER_EVENTS"]


class RequestsLines(unittest.TestCase):
    def lines(self, calls, now=1795542100.12345):
        agg = plugin.Aggregator()
        for call in calls:
            agg.add(*call)
        return [json.loads(line) for line in agg.lines(now=now)], agg

    def test_layout_and_exact_values(self):
        times = [12.3456789, 0.6574359999831358, 28.80296131522928, 1000.0, 0.0]
        (line,), agg = self.lines([("GET", '/weird,name "quoted"', t, 512, None) for t in times])
        self.assertEqual(line["event"], "requests")
        self.assertEqual(line["time"], 1795542100.123)
        self.assertEqual((line["request_type"], line["name"]), ("GET", '/weird,name "quoted"'))
        self.assertEqual((line["requests"], line["timed"], line["errors"]), (5, 5, []))
        total = 0
        for t in times:  # the order Locust adds them in
            total += t
        self.assertEqual(line["response_time_sum"], total)
        self.assertEqual((line["response_time_min"], line["response_time_max"]), (0.0, 1000.0))
        self.assertEqual(line["response_length_sum"], 2560)
        self.assertEqual((line["schema"], line["zero_count"]), (7, 1))
        self.assertEqual(sum(c for _, c in line["buckets"]), 4)
        # 1000 ms is exactly 2^0 s: the upper bound of bucket 0.
        self.assertIn([0, 1], line["buckets"])
        self.assertEqual(line["buckets"], sorted(line["buckets"]))
        self.assertEqual(agg.lines(now=1.0), [], "a flush starts over")

    def test_traceparent_headers_become_exemplars(self):
        class Request:
            def __init__(self, parent):
                self.headers = {"traceparent": parent} if parent else {}

        class Response:
            def __init__(self, parent):
                self.request = Request(parent)

        agg = plugin.Aggregator()
        trace = "0af7651916cd43dd8448eb211c80319c"
        for i, ms in enumerate([10.0, 12.0, 11.0, 400.0, 30.0, 0.0]):
            parent = f"00-{trace[:-2]}{i:02x}-b7ad6b71692033{i:02x}-01"
            agg.add("GET", "/t", ms, 1, response=Response(parent), start_time=1000.0 + i)
        # No header, a malformed one, zero ids, another response type: no exemplar.
        agg.add("GET", "/t", 999.0, 1, response=Response(None), start_time=1.0)
        agg.add("GET", "/t", 998.0, 1, response=Response("00-xyz-abc-01"), start_time=1.0)
        agg.add("GET", "/t", 997.0, 1, response=Response("00-" + "0" * 32 + "-" + "1" * 16 + "-01"), start_time=1.0)
        agg.add("GET", "/t", 996.0, 1, response=object(), start_time=1.0)
        (line,) = [json.loads(x) for x in agg.lines(now=2000.0)]
        self.assertEqual(line["requests"], 10)
        ex = line["exemplars"]
        # The slowest of each power of two of ms: 0 ms, 10..12 → 12 (8–16 ms), 30, 400.
        self.assertEqual([e[0] for e in ex], [0.0, 12.0, 30.0, 400.0])
        self.assertEqual(ex[1][1:3], [trace[:-2] + "01", "b7ad6b7169203301"])
        # The answer's time: its start plus its response time.
        self.assertEqual(ex[3][3], 1003.4)
        # At most MAX_EXEMPLARS, the slowest kept; none without traced requests.
        agg = plugin.Aggregator()
        for i in range(20):
            agg.add("GET", "/t", 2.0**i, 1, response=Response(f"00-{trace}-b7ad6b71692033{i:02x}-01"), start_time=1.0)
        agg.add("GET", "/u", 1.0, 1)
        lines = {json.loads(x)["name"]: json.loads(x) for x in agg.lines(now=2000.0)}
        self.assertEqual([e[0] for e in lines["/t"]["exemplars"]], [2.0**i for i in range(12, 20)])
        self.assertNotIn("exemplars", lines["/u"])

    def test_bucket_bounds(self):
        import math

        for ms in (0.002, 0.5, 1.0, 3.7, 99.0, 100.0, 2500.0, 86_400_000.0):
            (line,), _ = self.lines([("GET", "/", ms, 0, None)])
            (index, count), = line["buckets"]
            low, high = 2 ** ((index - 1) / 128), 2 ** (index / 128)
            seconds = ms / 1000.0
            self.assertTrue(low < seconds <= high * (1 + 1e-15), (ms, index, low, high))
            self.assertLess(high / low - 1, 0.0055, "0.54 % wide")

    def test_failures_by_locusts_error_text_and_no_time(self):
        calls = [
            ("CUSTOM", "op", None, None, RuntimeError("custom op failed")),
            ("CUSTOM", "op", None, None, RuntimeError("custom op failed")),
            ("CUSTOM", "op", 5.0, 10, None),
        ]
        (line,), _ = self.lines(calls)
        self.assertEqual(line["errors"], [["RuntimeError('custom op failed')", 2]])
        self.assertEqual((line["requests"], line["timed"], line["response_length_sum"]), (3, 1, 10))
        self.assertEqual((line["response_time_min"], line["response_time_max"]), (5.0, 5.0))

    def test_untimed_only_has_no_min_max(self):
        (line,), _ = self.lines([("GET", "/", None, 0, None)])
        self.assertNotIn("response_time_min", line)
        self.assertEqual((line["timed"], line["buckets"], line["zero_count"]), (0, [], 0))

    def test_histogram_equals_the_definition_at_every_bound(self):
        """The flush bisects a table of thresholds; every time lands where the definition
        (`_bucket`: the smallest i with ms / 1000 <= 2^(i/128)) puts it, including times on a
        bound, one float either side of it, at the zero threshold and past the table."""
        import math
        import random

        rng = random.Random(11)
        times = [rng.lognormvariate(rng.choice([-9, -2, 4]), rng.choice([0.1, 1, 3])) * 1000 for _ in range(3000)]
        for i in list(range(-2562, -2540)) + [rng.randint(-2560, 5200) for _ in range(500)] + [5119, 5120, 5121, 6000]:
            bound = plugin._upper(i) * 1000.0
            times += [bound, math.nextafter(bound, 0), math.nextafter(bound, math.inf)]
        times += [0.0, -1.0, 2.0 ** -20 * 1000]
        (line,), _ = self.lines([("GET", "/", t, 0, None) for t in times])
        expected, zero = {}, 0
        for ms in times:
            if ms / 1000.0 <= plugin.ZERO_THRESHOLD:
                zero += 1
            else:
                b = plugin._bucket(ms)
                expected[b] = expected.get(b, 0) + 1
        self.assertEqual(line["zero_count"], zero)
        self.assertEqual(line["buckets"], sorted([b, c] for b, c in expected.items()))
        self.assertEqual(line["timed"], len(times))
        self.assertEqual((line["response_time_min"], line["response_time_max"]), (min(times), max(times)))

    def test_times_no_number_can_be_made_of_are_untimed(self):
        calls = [
            ("GET", "/", float("inf"), 1, None),
            ("GET", "/", float("nan"), 1, None),
            ("GET", "/", "12", 1, None),
            ("GET", "/", 7.5, "oops", None),
            ("GET", "/", 2.5, 3, None),
        ]
        (line,), _ = self.lines(calls)
        self.assertEqual((line["requests"], line["timed"], line["response_time_sum"]), (5, 2, 10.0))
        self.assertEqual((line["response_time_min"], line["response_time_max"]), (2.5, 7.5))
        self.assertEqual(line["response_length_sum"], 6)
        self.assertEqual(sum(c for _, c in line["buckets"]), 2)

    def test_one_line_per_endpoint_and_unicode(self):
        lines, _ = self.lines([("GET", "/café", 1.0, 0, None), ("POST", "/café", 1.0, 0, None), ("GET", "/café", 2.0, 0, None)])
        got = sorted((l["request_type"], l["name"], l["requests"]) for l in lines)
        self.assertEqual(got, [("GET", "/café", 2), ("POST", "/café", 1)])


class StdoutTakeover(unittest.TestCase):
    def test_wanted_for_stdout_only(self):
        self.assertTrue(plugin._stdout_wanted(["locust"], {}))
        self.assertTrue(plugin._stdout_wanted(["locust", "--exporter-events", "-"], {}))
        self.assertFalse(plugin._stdout_wanted(["locust", "--exporter-events", "e.jsonl"], {}))
        self.assertFalse(plugin._stdout_wanted(["locust", "--exporter-events=e.jsonl"], {}))
        self.assertFalse(plugin._stdout_wanted(["locust"], {"LOCUST_EXPORTER_EVENTS": "e.jsonl"}))
        # --exporter: the stream goes to the exporter child (or the master), stdout stays Locust's.
        self.assertFalse(plugin._stdout_wanted(["locust", "--exporter"], {}))

    def test_exporter_command(self):
        import types

        options = types.SimpleNamespace(
            exporter_listen="127.0.0.1:9999",
            exporter_check=["fail_ratio<1%", "p95<500ms"],
            exporter_check_abort=True,
            exporter_check_grace="3s",
            exporter_arg=["--summary.json 'a b.json'"],
        )
        os.environ["LOCUST_EXPORTER_BIN"] = "/x/locust-exporter"
        try:
            args = plugin.exporter_command(options, headless=True)
        finally:
            del os.environ["LOCUST_EXPORTER_BIN"]
        self.assertEqual(
            args,
            [
                "/x/locust-exporter", "--events", "-", "--web.listen-address", "127.0.0.1:9999",
                "--check", "fail_ratio<1%", "--check", "p95<500ms",
                "--check.abort", "--check.abort.stdout", "--check.grace", "3s",
                "--exit-after-stop", "1s", "--summary.json", "a b.json",
            ],
        )

    def test_other_writers_go_to_stderr(self):
        import subprocess

        code = (
            "import os, sys; sys.path.insert(0, %r); sys.argv = ['locust'];"
            "import locust_exporter_plugin as p;"
            "print('noise from print'); sys.stdout.flush(); os.write(1, b'noise from fd 1\\n');"
            "os.write(p._stream_fd, b'{\\\"event\\\":\\\"test_start\\\"}\\n')"
        ) % os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
        self.assertEqual(out.stdout, b'{"event":"test_start"}\n')
        self.assertIn(b"noise from print", out.stderr)
        self.assertIn(b"noise from fd 1", out.stderr)


if __name__ == "__main__":
    unittest.main()
