"""What a fault did, second by second: Locust's history around the fault, summarised.

A fault cell keeps Locust's per-second history (``_stats_history.csv``);
:func:`timeline` turns it into successes and failures per second relative to
the moment of the fault, and :func:`summary` into the numbers the report
tables show (ok/s before and after, the share kept, the seconds without
service). Pure functions of a file and a list: the runner and the report
both read them.
"""

from __future__ import annotations

import csv
import itertools
import statistics
from pathlib import Path
from typing import Any

from labbench.faults import LEAD_S


def timeline(history_csv: Path, fault_at: float | None) -> list[list[float]]:
    """[seconds from the fault, successes, failures] for each second of
    Locust's history (its rows are cumulative, a second apart)."""
    rows: list[tuple[int, int, int]] = []
    try:
        with history_csv.open(newline="") as file:
            for row in csv.DictReader(file):
                if row.get("Name") == "Aggregated":
                    rows.append(
                        (int(row["Timestamp"]), int(row["Total Request Count"]), int(row["Total Failure Count"]))
                    )
    except (OSError, ValueError, KeyError):
        return []
    origin = fault_at if fault_at is not None else (rows[0][0] if rows else 0)
    points = []
    for (_, requests0, failures0), (stamp, requests1, failures1) in itertools.pairwise(rows):
        failed = failures1 - failures0
        points.append([round(stamp - origin, 1), requests1 - requests0 - failed, failed])
    return points


#: A second with fewer successes than this share of the usual is a second without service.
OUTAGE = 0.1


def summary(points: list[list[float]]) -> dict[str, Any]:
    """Successes per second before the fault and after it (its first second
    left out), the share kept, the seconds without service, and the failures."""
    before = [ok for at, ok, _ in points if -LEAD_S + 1 < at <= 0]
    after = [ok for at, ok, _ in points if at > 1]
    rps_before = statistics.mean(before) if before else None
    rps_after = statistics.mean(after) if after else None
    return {
        "ok_per_s_before": rps_before,
        "ok_per_s_after": rps_after,
        "kept": rps_after / rps_before if rps_before and rps_after is not None else None,
        "outage_s": sum(1 for at, ok, _ in points if at > 0 and ok < OUTAGE * rps_before) if rps_before else None,
        "failures_after": sum(failed for at, _, failed in points if at > 0),
    }
