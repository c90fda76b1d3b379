"""Unit tests of the plugin's line format (run with the venv's Python; see test.sh).

They check that each line is valid JSON with the fields SPEC §3.2 names, in the exact
layout the exporter's fast path reads, and that error texts are Locust's own.
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


class RequestLine(unittest.TestCase):
    def test_layout_and_values(self):
        line = plugin.request_line("GET", '/weird,name "quoted"', 12.3456789, 512, None, now=1795542100.12345)
        self.assertEqual(
            line,
            '{"event":"request","time":1795542100.123,"request_type":"GET","name":"/weird,name \\"quoted\\"",'
            '"response_time":12.3456789,"response_length":512,"exception":null}',
        )
        data = json.loads(line)
        self.assertEqual(data["name"], '/weird,name "quoted"')

    def test_response_time_reads_back_as_the_same_float(self):
        for rt in (0.6574359999831358, 28.80296131522928, 1e-05, 12345.678901234567):
            data = json.loads(plugin.request_line("GET", "/", rt, 0, None, now=1.0))
            self.assertEqual(data["response_time"], rt)

    def test_error_text_is_locusts(self):
        line = plugin.request_line("CUSTOM", "op", None, None, RuntimeError("custom op failed"), now=1.0)
        data = json.loads(line)
        self.assertEqual(data["exception"], "RuntimeError('custom op failed')")
        self.assertIsNone(data["response_time"])
        self.assertEqual(data["response_length"], 0)

    def test_unicode_is_kept(self):
        data = json.loads(plugin.request_line("GET", "/café", 1.0, 0, None, now=1.0))
        self.assertEqual(data["name"], "/café")


class StdoutTakeover(unittest.TestCase):
    def test_wanted_for_stdout_only(self):
        self.assertTrue(plugin._stdout_wanted(["locust"], {}))
        self.assertTrue(plugin._stdout_wanted(["locust", "--exporter-events", "-"], {}))
        self.assertFalse(plugin._stdout_wanted(["locust", "--exporter-events", "e.jsonl"], {}))
        self.assertFalse(plugin._stdout_wanted(["locust", "--exporter-events=e.jsonl"], {}))
        self.assertFalse(plugin._stdout_wanted(["locust"], {"LOCUST_EXPORTER_EVENTS": "e.jsonl"}))

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
