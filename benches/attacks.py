#!/usr/bin/env python3
"""Ingestion and memory under attack (slow readers, a password flood, scrapers in a loop, idle
keep-alives), in one run, on the release binary.

    cargo build --release && python3 benches/attacks.py [EVENTS]

One exporter follows an events file; for each case a prepared file of EVENTS request events
(default 1,000,000) is moved onto the followed path and the time until all are counted is
taken (best of 3), quietly and while an attack runs; the exporter's RSS is read before and at
the end of each attack. The attacks: 505 HTTP/1.1 clients that never read (1 KiB receive
buffers), a wrong-password flood (each guess a new password), six scrapers (every format ×
compression) in a loop, and 512 idle keep-alive connections. Standard library only.
"""
import base64
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "locust-exporter")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
# bcrypt (cost 10, as the exporter toolkit's docs suggest) of the honest scraper's password
# "honest", made with the exporter's own bcrypt crate.
HONEST_HASH = "$2b$10$RiTWl7CNhUMptNnPKdDdr.6itTlrYiaDZRs55JXNmEpSWwgE5oAra"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(port, path="/metrics", headers=None, timeout=30):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def counted(port, auth):
    status, body = get(port, headers={"Authorization": auth})
    assert status == 200, status
    for line in body.decode().splitlines():
        if line.startswith('locust_stats_num_requests{') and 'path="Aggregated"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def prepare(directory, k):
    path = os.path.join(directory, f"run{k}.jsonl")
    with open(path, "w") as f:
        for i in range(N):
            f.write(
                '{"event":"request","time":%d.5,"request_type":"GET","name":"/item/%d","response_time":%d.25,"response_length":100,"exception":null}\n'
                % (1_700_000_000 + k * 2000 + i // 1000, i % 100, i % 300)
            )
        f.flush()
        os.fsync(f.fileno())
    return path


def ingest_seconds(port, auth, followed, ready):
    before = counted(port, auth)
    start = time.monotonic()
    os.rename(ready, followed)
    while counted(port, auth) < before + N:
        assert time.monotonic() - start < 120, "ingest never finished"
        time.sleep(0.01)
    return time.monotonic() - start


class Attack:
    def __init__(self, name, start):
        self.name, self.start_fn, self.stop = name, start, threading.Event()

    def __enter__(self):
        self.state = self.start_fn(self.stop)
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        time.sleep(0.5)


def slow_readers(port, auth):
    def start(stop):
        socks = []
        for _ in range(505):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.connect(("127.0.0.1", port))
            s.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n".encode())
            socks.append(s)
            time.sleep(0.004)
        return socks
    return start


def password_flood(port):
    def start(stop):
        def guess(g):
            n = 0
            while not stop.is_set():
                cred = base64.b64encode(f"prometheus:guess{g}-{n}".encode()).decode()
                get(port, headers={"Authorization": f"Basic {cred}"}, timeout=5)
                n += 1
        threads = [threading.Thread(target=guess, args=(g,), daemon=True) for g in range(4)]
        for t in threads:
            t.start()
        return threads
    return start


def six_scrapers(port, auth):
    kinds = [
        ({}, "text"),
        ({"Accept-Encoding": "gzip"}, "text gzip"),
        ({"Accept": "application/openmetrics-text;version=1.0.0"}, "om"),
        ({"Accept": "application/openmetrics-text;version=1.0.0", "Accept-Encoding": "gzip"}, "om gzip"),
        ({"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"}, "pb"),
        ({"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "Accept-Encoding": "gzip"}, "pb gzip"),
    ]

    def start(stop):
        def loop(headers):
            while not stop.is_set():
                get(port, headers={**headers, "Authorization": auth}, timeout=10)
        threads = [threading.Thread(target=loop, args=(h,), daemon=True) for h, _ in kinds]
        for t in threads:
            t.start()
        return threads
    return start


def idle_keepalives(port, auth):
    def start(stop):
        socks = []
        for _ in range(512):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            s.sendall(f"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(s)
        return socks
    return start


def run():
    if not os.path.exists(BIN):
        sys.exit(f"build first: cargo build --release ({BIN} is missing)")
    d = tempfile.mkdtemp()
    web = os.path.join(d, "web.yml")
    with open(web, "w") as f:
        f.write(f"basic_auth_users:\n  prometheus: '{HONEST_HASH}'\n")
    followed = os.path.join(d, "events.jsonl")
    open(followed, "w").close()
    port = free_port()
    ex = subprocess.Popen(
        [BIN, "--events", followed, "--web.config.file", web, "--web.listen-address", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
    )
    try:
        auth = "Basic " + base64.b64encode(b"prometheus:honest").decode()
        for _ in range(100):
            if get(port, "/-/healthy")[0] == 200:
                break
            time.sleep(0.1)
        counted(port, auth)
        cases = [
            ("quiet", None),
            ("505 non-reading clients", slow_readers(port, auth)),
            ("wrong-password flood", password_flood(port)),
            ("six scrapers (format x gzip)", six_scrapers(port, auth)),
            ("512 idle keep-alives", idle_keepalives(port, auth)),
        ]
        k = 0
        print(f"ingest of {N:,} events, best of 3; RSS of the exporter")
        print(f"{'case':32} {'lines/s':>12} {'vs quiet':>9} {'RSS before':>11} {'RSS during':>11}")
        quiet = None
        for name, attack in cases:
            times, before, during = [], rss_kib(ex.pid), 0
            for _ in range(3):
                ready = prepare(d, k)
                k += 1
                if attack is None:
                    times.append(ingest_seconds(port, auth, followed, ready))
                else:
                    with Attack(name, attack):
                        times.append(ingest_seconds(port, auth, followed, ready))
                        during = max(during, rss_kib(ex.pid))
            rate = N / min(times)
            quiet = quiet or rate
            during = during or rss_kib(ex.pid)
            print(f"{name:32} {rate:12,.0f} {rate / quiet:9.0%} {before / 1024:10.0f}M {during / 1024:10.0f}M")
    finally:
        ex.terminate()
        ex.wait(10)


if __name__ == "__main__":
    run()
