"""Unit tests of the plugin's line format (run with the venv's Python; see test.sh).

They check that each line is valid JSON with the fields SPEC §3.2 names, in the exact
layout the exporter's fast path reads, and that error texts are Locust's own.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))

import locust_exporter_plugin as plugin  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
