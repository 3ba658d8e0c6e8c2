"""CPU seconds and memory of whatever is serving: a container or a process tree.

Reports read this before and after a run, so the load generator never needs
the Docker socket. Inside a container the cgroup is the truth: it counts every
worker, the master and anything they spawn. Outside one, the server's process
group stands in for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

CGROUP = Path("/sys/fs/cgroup")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cpu_limit(quota: int | None, period: int | None) -> float | None:
    """CPUs the cgroup may use, from its CFS quota; None when unlimited."""
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None
    return quota / period


def _cgroup_v2(root: Path) -> dict[str, Any] | None:
    try:
        stat = dict(line.split() for line in (root / "cpu.stat").read_text().splitlines())
    except (OSError, ValueError):
        return None
    try:
        quota, period = (root / "cpu.max").read_text().split()
        cpu_limit = _cpu_limit(int(quota) if quota.isdigit() else None, int(period))
    except (OSError, ValueError):
        cpu_limit = None
    return {
        "source": "cgroup v2",
        "cpu_seconds": int(stat["usage_usec"]) / 1e6,
        "memory_bytes": _read_int(root / "memory.current"),
        # memory.peak arrived in Linux 5.19; older kernels report null.
        "memory_peak_bytes": _read_int(root / "memory.peak"),
        "cpu_limit": cpu_limit,
        # "max" (no limit) reads as None.
        "memory_limit_bytes": _read_int(root / "memory.max"),
    }


def _cgroup_v1(root: Path) -> dict[str, Any] | None:
    usage_ns = _read_int(root / "cpuacct" / "cpuacct.usage")
    if usage_ns is None:
        usage_ns = _read_int(root / "cpu,cpuacct" / "cpuacct.usage")
    if usage_ns is None:
        return None
    cpu_dir = root / "cpu" if (root / "cpu").is_dir() else root / "cpu,cpuacct"
    memory_limit = _read_int(root / "memory" / "memory.limit_in_bytes")
    return {
        "source": "cgroup v1",
        "cpu_seconds": usage_ns / 1e9,
        "memory_bytes": _read_int(root / "memory" / "memory.usage_in_bytes"),
        "memory_peak_bytes": _read_int(root / "memory" / "memory.max_usage_in_bytes"),
        "cpu_limit": _cpu_limit(_read_int(cpu_dir / "cpu.cfs_quota_us"), _read_int(cpu_dir / "cpu.cfs_period_us")),
        # v1 says "no limit" with a huge number rather than a word.
        "memory_limit_bytes": memory_limit if memory_limit and memory_limit < 2**60 else None,
    }


def cgroup_usage(root: Path = CGROUP) -> dict[str, Any] | None:
    """The container's own cgroup, v2 or v1; None where neither is readable."""
    return _cgroup_v2(root) or _cgroup_v1(root)


def _peak_rss(proc: psutil.Process) -> int:
    # VmHWM is the process's peak resident set; psutil does not expose it.
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return proc.memory_info().rss


def process_group_usage(pgid: int | None = None) -> dict[str, Any]:
    """Sum over the server's process group (the native runner starts each
    server in a session of its own, so its workers share one group).

    CPU includes children already reaped (recycled workers). Memory adds up
    resident sets, which counts pages shared after fork more than once: an
    upper bound, stated as such in the report.
    """
    pgid = os.getpgid(0) if pgid is None else pgid
    cpu = 0.0
    rss = 0
    peak = 0
    count = 0
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) != pgid:
                continue
            times = proc.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += proc.memory_info().rss
            peak += _peak_rss(proc)
            count += 1
        except (psutil.Error, ProcessLookupError):
            continue  # a process that ended while we looked
    return {
        "source": "process group",
        "cpu_seconds": cpu,
        "memory_bytes": rss,
        "memory_peak_bytes": peak,
        # Natively, the CPUs the server is pinned to stand in for a limit.
        "cpu_limit": float(len(os.sched_getaffinity(0))),
        "memory_limit_bytes": None,
        "processes": count,
    }


def usage(source: str) -> dict[str, Any]:
    found = (cgroup_usage() if source == "cgroup" else None) or process_group_usage()
    # The CPUs this server may run on: a container's cpuset, or natively the
    # CPUs labbench pinned it to (the run records both sides' placement).
    return found | {"cpus": sorted(os.sched_getaffinity(0))}
