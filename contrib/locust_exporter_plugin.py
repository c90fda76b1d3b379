"""Locust plugin: reports requests and lifecycle events as JSON lines for locust-exporter.

Installed with `pip install locust-exporter` (the wheel carries this module as
`locust_exporter` and the exporter's binary), one flag runs the exporter inside Locust:

    locust -f locustfile.py --headless ... --exporter --exporter-check 'fail_ratio<1%'

(with `import locust_exporter` in the locustfile, or `-f locust_exporter,locustfile.py`).
`--exporter` starts the bundled `locust-exporter` as a child of the master (or standalone)
process with the event stream piped to it, serving /metrics at `--exporter-listen`
(default :9646); `--exporter-check EXPR` (repeatable) are its checks, and a failing one
makes `locust` exit 99; `--exporter-check-abort` stops a headless run once a check fails
(after `--exporter-check-grace`); `--exporter-arg ARG` passes any other exporter flag.
Workers started with `--exporter` send their batches to the master over Locust's own
messaging: no shared files. docs/events.md, "Inside Locust".

Or next to your locustfile with a separate exporter (the plugin first, see "Standard output" below):

    locust -f contrib/locust_exporter_plugin.py,locustfile.py --headless ... | locust-exporter --events -
    locust -f contrib/locust_exporter_plugin.py,locustfile.py --exporter-events events.jsonl ...

Requests are aggregated in the process and written once a second, one line per endpoint
(the `requests` line of locust-exporter's `--events` format, docs/events.md, "Batches"):

    {"event":"requests","time":1795542100.123,"request_type":"GET","name":"/item/[id]",
     "requests":812,"errors":[["HTTPError('500 Server Error: ...')",3]],"timed":812,
     "response_time_sum":9817.2391,"response_time_min":3.61,"response_time_max":142.9,
     "response_length_sum":283388,"schema":7,"zero_count":0,"buckets":[[-807,2],[-806,5],...]}

(one line, shown wrapped). Counts, failures by error, the sums, min and max are exact (the
sums are those Locust adds up, so the exporter's averages equal Locust's to 1e-12 relative);
`buckets` is a native-histogram-style histogram of response times in seconds at schema 7:
bucket `i` holds times in (2^((i-1)/128), 2^(i/128)], 0.54 % wide, finer than the exporter's
schema 6 (which it merges into exactly) and finer than Locust's own rounding to two
significant digits. Times at or below 2^-20 s count in `zero_count`. A request without a
time (None, as Locust counts it too) or with one no number can be made of (a string, inf,
NaN) counts as a request but not as timed.

What it costs: per request, the listener appends the time and length to its endpoint's lists
(about 0.36 µs on a 2-core VM, most of it Python's own call); the flush sums, sorts and
bisects a second's worth at once (about 0.15 µs a request). A saturated Locust worker
(~150 µs of CPU per request) loses about 0.7 % of its requests/s to it
(benches/plugin_ab.sh; benches/plugin_listener.py times the parts).

Other lines, one per event:

    {"event":"test_start","time":1795542100.0}  {"event":"test_stop","time":1795542160.0}
    {"event":"users","user_count":20}  {"event":"workers","count":4}
    {"event":"runner","name":"master"}  (or "standalone")
    {"event":"exception","message":"...","traceback":"..."}

Locust before about 2.16 takes a single `-f` file: import the plugin from your locustfile
instead (`import locust_exporter_plugin`, with `contrib/` on `PYTHONPATH`). Checked with
Locust 2.47.0 and 2.8.6. `exception` texts are what Locust itself puts in `_failures.csv`
(`StatsError.parse_error`), so errors match.

Distributed runs: requests and task exceptions happen on workers, so each worker writes its
own stream of them (give each its own file, e.g. `--exporter-events events-{pid}.jsonl`, or
its own stdout); the master writes no requests (it never sees them one by one), only test
start/stop, the total user count and the worker count. Feed all streams to one exporter under
one service: nothing is counted twice. Standalone runs write everything (and a worker count
of 0). Each process writes its last batch when the test stops and when it quits.

Writes are whole lines, one `write()` per flush, so a reader never sees half a line from this
process.

Standard output: when the stream goes to stdout (the default, or `--exporter-events -`), the
plugin takes the process's standard output for itself as soon as it is imported: it keeps a
private copy of file descriptor 1 for the stream and points descriptor 1 at standard error,
so everything else that writes to stdout — `print()` in a locustfile, a logging handler on
`sys.stdout`, a library or C code writing to fd 1, Locust's own console output — goes to
stderr and can never split or interleave a line of the stream. List the plugin first in
`-f` so this happens before your locustfile is imported (anything printed before the
plugin's import still reaches stdout). With `--processes N` (forked workers sharing stdout),
give each process its own file instead: `--exporter-events events-{pid}.jsonl`.
"""
import json
import os
import shlex
import shutil
import sys
import time
import traceback as tb_module
from bisect import bisect_left, bisect_right
from functools import reduce
from math import frexp, isfinite, ldexp
from operator import add
from struct import pack as _pack
from struct import unpack as _unpack

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

try:  # Locust ≥ 2.x: the same text Locust writes in _failures.csv.
    from locust.stats import StatsError

    def _error_text(exception):
        return StatsError.parse_error(exception)

except ImportError:  # pragma: no cover - very old Locust

    def _error_text(exception):
        return exception if isinstance(exception, str) else repr(exception)


FLUSH_EVERY_SECONDS = 1.0
STATE_EVERY_SECONDS = 1.0

# The response-time histogram: schema 7 (bucket i holds (2^((i-1)/128), 2^(i/128)] seconds),
# indexed as client_golang and locust-exporter index native histograms.
SCHEMA = 7
_FRACTIONS = [2.0 ** (j / 128.0 - 1.0) for j in range(128)]
ZERO_THRESHOLD = 2.0 ** -20

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _stdout_wanted(argv, environ):
    """True if the stream goes to stdout: no `--exporter` (the stream goes to the exporter
    it starts, or to the master), and no `--exporter-events` (nor LOCUST_EXPORTER_EVENTS),
    or `-`."""
    if "--exporter" in argv:
        return False
    target = environ.get("LOCUST_EXPORTER_EVENTS", "-")
    for i, arg in enumerate(argv):
        if arg == "--exporter-events" and i + 1 < len(argv):
            target = argv[i + 1]
        elif arg.startswith("--exporter-events="):
            target = arg.split("=", 1)[1]
    return target in ("-", "")


def _take_stdout():
    """Keeps a private copy of fd 1 for the stream and points fd 1 at stderr, so every other
    writer to stdout goes to stderr. Returns the private descriptor."""
    own = os.dup(1)
    os.dup2(2, 1)
    return own


def _give_back_stdout(own):
    """Undoes `_take_stdout` (the stream goes to a file after all)."""
    os.dup2(own, 1)
    os.close(own)


# Taken at import, before a locustfile listed after the plugin is imported.
_stream_fd = _take_stdout() if _stdout_wanted(sys.argv, os.environ) else None


class _Writer:
    """Gathers lines and writes them in whole-line batches to a file descriptor (or, on a
    worker under `--exporter`, sends them to the master)."""

    def __init__(self, target, fd=None, send=None):
        self.target = target
        self.fd = fd
        self.send = send
        self.lines = []

    def open(self):
        global _stream_fd
        if self.fd is not None or self.send is not None:
            if _stream_fd is not None:
                _give_back_stdout(_stream_fd)
                _stream_fd = None
            return
        if self.target in ("-", ""):
            if _stream_fd is None:  # the option came from elsewhere (a config file)
                _stream_fd = _take_stdout()
            self.fd = _stream_fd
        else:
            if _stream_fd is not None:
                _give_back_stdout(_stream_fd)
                _stream_fd = None
            path = self.target.replace("{pid}", str(os.getpid()))
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def add(self, line):
        self.lines.append(line)

    def flush(self):
        if not self.lines:
            return
        if self.send is not None:
            lines, self.lines = self.lines, []
            self.send(lines)
            return
        if self.fd is None:
            return
        self.write("\n".join(self.lines) + "\n")
        self.lines = []

    def write(self, text):
        """Writes whole lines at once; a reader that has gone (the exporter exited) loses them,
        said once."""
        view = memoryview(text.encode("utf-8"))
        try:
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
        except OSError as e:
            if not getattr(self, "_said", False):
                self._said = True
                sys.stderr.write("locust_exporter: the event stream is closed (%s): lines lost\n" % e)

    def run(self):
        while True:
            gevent.sleep(FLUSH_EVERY_SECONDS)
            _flush()


_writer = None


class Aggregator:
    """Requests by request_type and name, turned into `requests` lines at each flush.

    The `request` listener only appends the response time and length to its endpoint's lists
    (and counts the error, if any): a saturated worker calls it for every request, so it
    does as little as Python allows. The sums, min/max and the histogram are computed at the
    flush, over a second's worth of requests at once, by passes that run in C: a sum in
    arrival order (Locust's own order, so the sums are Locust's), one sort, and two
    bisections per occupied histogram bucket.
    """

    def __init__(self):
        self.endpoints = {}  # request_type -> name -> (times, lengths, errors)

    def add(
        self,
        request_type,
        name,
        response_time,
        response_length,
        exception=None,
        context=None,
        response=None,
        url=None,
        start_time=None,
        **_kw,
    ):
        """Counts one request (the `request` event's listener). Every argument Locust passes
        is named, which halves the cost of the call itself. A request that carried a W3C
        `traceparent` header (OpenTelemetry's instrumentation, or one the locustfile set) is
        kept as an exemplar candidate; which ones are sent is decided at the flush."""
        try:
            times, lengths, errors, traced = self.endpoints[request_type][name]
        except KeyError:
            times, lengths, errors, traced = self.endpoints.setdefault(request_type, {})[name] = ([], [], {}, [])
        times.append(response_time)
        lengths.append(response_length)
        if exception is not None:
            text = _error_text(exception)
            errors[text] = errors.get(text, 0) + 1
        # Attribute lookups with defaults (no exception raised when a request type has no
        # response, or a response no request): the listener runs for every request.
        headers = getattr(getattr(response, "request", None), "headers", None)
        if headers:
            parent = headers.get("traceparent")
            if parent:
                traced.append((response_time, parent, start_time))

    def lines(self, now=None):
        """The `requests` lines of everything added since the last call, which starts over."""
        endpoints, self.endpoints = self.endpoints, {}
        t = round(time.time() if now is None else now, 3)
        out = []
        for request_type, names in endpoints.items():
            for name, (times, lengths, errors, traced) in names.items():
                out.append(_requests_line(t, request_type, name, times, lengths, errors, traced))
        return out


def _requests_line(t, request_type, name, times, lengths, errors, traced=()):
    """One endpoint's `requests` line from the times and lengths of its requests, in the
    order they came (the lists are consumed), with exemplars of its traced requests."""
    requests = len(times)
    try:
        total = reduce(add, times, 0.0)  # Locust's own order of additions
        clean = isfinite(total)
    except TypeError:
        clean = False
    if not clean:
        # No time (None), or one no number can be made of: counted as requests, not timed.
        times = list(filter(_number, times))
        total = reduce(add, times, 0.0)
    try:
        length = int(sum(filter(None, lengths)))
    except (TypeError, ValueError, OverflowError):
        length = int(sum(filter(_number, lengths)))
    timed = ""
    zero, buckets = 0, []
    if times:
        times.sort()
        timed = ',"response_time_min":%r,"response_time_max":%r' % (float(times[0]), float(times[-1]))
        zero, buckets = _histogram(times)
    return (
        '{"event":"requests","time":%r,"request_type":%s,"name":%s,"requests":%d,"errors":%s,'
        '"timed":%d,"response_time_sum":%r%s,"response_length_sum":%d,"schema":%d,'
        '"zero_count":%d,"buckets":%s%s}'
        % (
            t,
            _dumps(str(request_type)),
            _dumps(str(name)),
            requests,
            _dumps(sorted(errors.items())),
            len(times),
            float(total),
            timed,
            length,
            SCHEMA,
            zero,
            _dumps(buckets),
            _exemplars(traced, t),
        )
    )


#: At most this many exemplars a `requests` line carries (the exporter takes up to 64).
MAX_EXEMPLARS = 8


def _exemplars(traced, now):
    """The `exemplars` field of a line: of the traced requests, the slowest in each power of
    two of milliseconds (spread over the range, biased to the tail), at most MAX_EXEMPLARS,
    the slowest kept; each `[response_time, trace_id, span_id, time of the answer]` from its
    `traceparent` (`00-<trace id>-<parent span id>-<flags>`). Empty when none was traced.
    Only the winners' headers are parsed (one pass of comparisons over the rest); a winner
    whose header is malformed leaves its power of two without an exemplar."""
    best = {}
    for entry in traced:
        try:
            k = frexp(entry[0])[1]
        except TypeError:
            continue  # no time: no exemplar
        kept = best.get(k)
        if kept is None or entry[0] >= kept[0]:
            best[k] = entry
    out = []
    for ms, parent, start in best.values():
        if not _number(ms) or ms < 0 or not isinstance(parent, str):
            continue
        parts = parent.strip().split("-")
        if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
            continue
        trace_id, span_id = parts[1].lower(), parts[2].lower()
        try:
            if int(trace_id, 16) == 0 or int(span_id, 16) == 0:
                continue
        except ValueError:
            continue
        # When the answer came (as a span's end): a series' exemplars must come in time order.
        at = start + ms / 1000.0 if _number(start) else now
        out.append((float(ms), trace_id, span_id, round(min(at, now), 6)))
    if not out:
        return ""
    keep = sorted(out)[-MAX_EXEMPLARS:]
    return ',"exemplars":' + _dumps([list(e) for e in keep])


def _number(x):
    """A finite int or float (what a time or a length must be to be counted)."""
    return isinstance(x, (int, float)) and isfinite(x)


def _histogram(times):
    """(zero_count, [[index, count], ...]) of sorted, finite response times in milliseconds:
    one pair of bisections per occupied bucket, not a step per request."""
    zero = i = bisect_right(times, _THRESHOLDS[0])
    top = bisect_right(times, _THRESHOLDS[-1], i)
    out = []
    while i < top:
        k = bisect_left(_THRESHOLDS, times[i], 1)
        j = bisect_right(times, _THRESHOLDS[k], i, top)
        out.append([k + _LOWEST, j - i])
        i = j
    for ms in times[top:]:  # beyond 2^40 s: one at a time
        b = _bucket(ms)
        if out and out[-1][0] == b:
            out[-1][1] += 1
        else:
            out.append([b, 1])
    return zero, out


def _bucket(ms):
    """The bucket of a time in milliseconds above the zero threshold, by definition: the
    smallest i with ms / 1000 <= 2^(i/128)."""
    fraction, exponent = frexp(ms / 1000.0)
    return bisect_left(_FRACTIONS, fraction) + (exponent - 1) * 128


def _upper(i):
    """Bucket i's upper bound in seconds, as `_bucket` compares against it."""
    q, r = divmod(i, 128)
    return ldexp(_FRACTIONS[r], q + 1)


def _step(x, by):
    """The float next to a positive finite x, up (by=1) or down (by=-1). (`math.nextafter`
    needs Python 3.9; the Locust versions this plugin supports run on older ones.)"""
    return _unpack("<d", _pack("<q", _unpack("<q", _pack("<d", x))[0] + by))[0]


def _threshold(i):
    """The largest time in milliseconds in bucket i (or under the zero threshold, for i =
    _LOWEST): the largest float ms with ms / 1000 <= `_upper(i)`, so that bisecting the
    thresholds puts every time exactly where `_bucket` would."""
    upper = _upper(i)
    ms = upper * 1000.0
    while ms / 1000.0 > upper:
        ms = _step(ms, -1)
    while _step(ms, 1) / 1000.0 <= upper:
        ms = _step(ms, 1)
    return ms


# Bucket _LOWEST's upper bound is the zero threshold (2^-20 s); the table ends at 2^40 s.
_LOWEST = -20 * 128
_THRESHOLDS = [_threshold(i) for i in range(_LOWEST, 40 * 128 + 1)]


_aggregator = Aggregator()


def _flush():
    """Writes the batches and the pending lines."""
    if _writer is None:
        return
    for line in _aggregator.lines():
        _writer.add(line)
    _writer.flush()


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    group = parser.add_argument_group("locust-exporter", "Prometheus metrics and verdicts of this run")
    group.add_argument(
        "--exporter-events",
        type=str,
        default="-",
        help="Where locust_exporter_plugin writes JSON-lines events: a file (appended; {pid} is "
        "replaced by the process id) or - for stdout (default).",
    )
    group.add_argument(
        "--exporter",
        action="store_true",
        default=False,
        help="Run locust-exporter inside Locust: the master (or a standalone run) starts it with "
        "the events piped to it; workers send their batches to the master.",
    )
    group.add_argument(
        "--exporter-listen",
        type=str,
        default=":9646",
        help="With --exporter: where it serves /metrics (default :9646).",
    )
    group.add_argument(
        "--exporter-check",
        action="append",
        default=[],
        metavar="EXPR",
        help="With --exporter: a check the run must pass (repeatable), as locust-exporter's "
        "--check; a failed one makes locust exit 99.",
    )
    group.add_argument(
        "--exporter-check-abort",
        action="store_true",
        default=False,
        help="With --exporter: stop the run once a check fails (after --exporter-check-grace).",
    )
    group.add_argument(
        "--exporter-check-grace",
        type=str,
        default="10s",
        help="With --exporter-check-abort: how long after the start a failing check does not stop the run.",
    )
    group.add_argument(
        "--exporter-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="With --exporter: more locust-exporter flags (repeatable; each split as a shell "
        "would): --exporter-arg='--summary.json summary.json'.",
    )


# Workers under --exporter send their lines to the master with this message type.
LINES_MESSAGE = "locust_exporter_lines"

# How long the master waits at quit for the exporter's final push, write and summary.
EXPORTER_EXIT_SECONDS = 60


def exporter_binary():
    """The bundled `locust-exporter`: $LOCUST_EXPORTER_BIN, else the one beside this Python
    (a venv's bin/, where pip puts it), else the first on PATH."""
    given = os.environ.get("LOCUST_EXPORTER_BIN")
    if given:
        return given
    beside = os.path.join(os.path.dirname(sys.executable), "locust-exporter")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("locust-exporter")
    if found:
        return found
    raise RuntimeError(
        "--exporter: no locust-exporter binary beside %s nor on PATH (pip install locust-exporter, "
        "or set LOCUST_EXPORTER_BIN)" % sys.executable
    )


def exporter_command(options, headless):
    """The exporter's command line for Locust's parsed `options`."""
    args = [exporter_binary(), "--events", "-", "--web.listen-address", options.exporter_listen]
    for check in options.exporter_check:
        args += ["--check", check]
    if options.exporter_check_abort:
        args += ["--check.abort", "--check.abort.stdout", "--check.grace", options.exporter_check_grace]
    if headless:
        # The run ends with Locust's: its verdict 1 s after the stop line.
        args += ["--exit-after-stop", "1s"]
    for extra in options.exporter_arg:
        args += shlex.split(extra)
    return args


class _Exporter:
    """The exporter child of the master (or standalone) process."""

    def __init__(self, environment, headless):
        import gevent.subprocess

        options = environment.parsed_options
        self.environment = environment
        self.headless = headless
        self.proc = gevent.subprocess.Popen(
            exporter_command(options, headless),
            stdin=gevent.subprocess.PIPE,
            stdout=gevent.subprocess.PIPE,
        )
        gevent.spawn(self._read_stdout)

    def fd(self):
        return self.proc.stdin.fileno()

    def _read_stdout(self):
        """`--check.abort.stdout` lines: the first stops the run."""
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith("abort: "):
                sys.stderr.write("locust_exporter: a check failed, stopping the run: %s\n" % line[7:])
                runner = self.environment.runner
                if runner is not None:
                    if self.headless:
                        gevent.spawn(runner.quit)
                    else:
                        gevent.spawn(runner.stop)

    def finish(self):
        """Ends the stream and waits for the exporter's verdict: 99 (a check failed) becomes
        Locust's exit code."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if not self.headless:
            gevent.sleep(1.0)
            if self.proc.poll() is None:
                self.proc.terminate()
        try:
            code = self.proc.wait(timeout=EXPORTER_EXIT_SECONDS)
        except Exception:  # gevent's Timeout: the exporter did not end
            self.proc.kill()
            code = self.proc.wait()
        if code == 99:
            self.environment.process_exit_code = 99
        elif code == 0 and getattr(self.environment.parsed_options, "exporter_check", None):
            # The checks are the verdict: failed requests within them do not fail the run
            # (Locust's own rule, exit 1 on any failure, is for runs without checks).
            self.environment.process_exit_code = 0
        elif code not in (0, None):
            sys.stderr.write("locust_exporter: the exporter exited with %s\n" % code)
            if self.environment.process_exit_code is None:
                self.environment.process_exit_code = code


_exporter = None


@events.init.add_listener
def _on_init(environment, **_kwargs):
    global _writer, _exporter
    options = environment.parsed_options
    target = getattr(options, "exporter_events", "-") if options else "-"
    runner = environment.runner
    is_worker = isinstance(runner, WorkerRunner)
    is_master = isinstance(runner, MasterRunner)
    if options is not None and getattr(options, "exporter", False):
        if is_worker:
            _writer = _Writer(target, send=lambda lines: runner.send_message(LINES_MESSAGE, lines))
        else:
            _exporter = _Exporter(environment, headless=bool(getattr(options, "headless", False)))
            _writer = _Writer(target, fd=_exporter.fd())
            if is_master:

                def _from_worker(environment, msg, **_kw):
                    for line in msg.data or ():
                        _writer.add(line)

                runner.register_message(LINES_MESSAGE, _from_worker)
    else:
        _writer = _Writer(target)
    _writer.open()
    gevent.spawn(_writer.run)

    if not is_master:

        environment.events.request.add_listener(_aggregator.add)

        @environment.events.user_error.add_listener
        def _on_user_error(user_instance, exception, tb, **_kw):
            text = "".join(tb_module.format_tb(tb)) if tb is not None else ""
            _writer.add(_dumps({"event": "exception", "message": str(exception), "traceback": text}))

    if is_worker:

        @environment.events.test_stop.add_listener
        def _on_worker_stop(**_kw):
            _flush()

    else:

        @environment.events.test_start.add_listener
        def _on_test_start(**_kw):
            _writer.add('{"event":"test_start","time":%r}' % time.time())
            gevent.spawn(_report_state, environment, is_master)

        @environment.events.test_stop.add_listener
        def _on_test_stop(**_kw):
            for line in _aggregator.lines():
                _writer.add(line)
            _write_state(environment, is_master)
            _writer.add('{"event":"test_stop","time":%r}' % time.time())
            _writer.flush()

    @environment.events.quitting.add_listener
    def _on_quitting(**_kw):
        _flush()
        if _exporter is not None:
            _exporter.finish()


def _runner_line(environment, is_master):
    """The runner line: its role, and what the run says of itself (locust_run_info's
    labels: Locust's version, the locustfile, the host under test), where known."""
    line = {"event": "runner", "name": "master" if is_master else "standalone"}
    try:
        from locust import __version__ as version

        line["locust_version"] = str(version)
    except ImportError:
        pass
    options = getattr(environment, "parsed_options", None)
    locustfile = getattr(options, "locustfile", None)
    if locustfile:
        line["locustfile"] = str(locustfile)
    host = getattr(environment, "host", None) or getattr(options, "host", None)
    if host:
        line["host"] = str(host)
    return json.dumps(line, separators=(",", ":"))


def _write_state(environment, is_master):
    runner = environment.runner
    if runner is None:
        return
    # What runner this is (the seed serves locust_slave_count only for a master, the Go
    # exporter's set serves a standalone run's worker counts as 0); workers write no state.
    _writer.add(_runner_line(environment, is_master))
    _writer.add('{"event":"users","user_count":%d}' % runner.user_count)
    workers = len(runner.clients) if is_master else 0
    _writer.add('{"event":"workers","count":%d}' % workers)


def _report_state(environment, is_master):
    """Users (and workers, on a master) once a second while the test runs. Written every
    second even when unchanged: it is also the heartbeat that keeps the exporter's state
    `running` when requests are sparse."""
    while environment.runner is not None and environment.runner.state not in ("stopped", "stopping", "cleanup", "quitting"):
        _write_state(environment, is_master)
        gevent.sleep(STATE_EVERY_SECONDS)
