"""Test helper, listed in `locust -f`: as Locust quits (its run over, before its report), writes its own final request stats
(the rows of its `_stats.csv`, computed by Locust from its in-memory stats after the run
ended, which its `--csv` files never get) to the file named by LOCUST_FINAL_STATS."""

import csv
import os

from locust import events
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV


@events.quitting.add_listener
def _write_final_stats(**_kw):
    path = os.environ.get("LOCUST_FINAL_STATS")
    env = _environment.get("env")
    if path and env is not None:
        with open(path, "w", newline="") as f:
            StatsCSV(env, PERCENTILES_TO_REPORT).requests_csv(csv.writer(f))


_environment = {}


@events.init.add_listener
def _keep_environment(environment, **_kw):
    _environment["env"] = environment
