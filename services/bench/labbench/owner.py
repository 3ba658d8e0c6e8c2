"""The bench container's entry point: become the owner of the results folder, then run labbench.

``docker compose run --rm bench`` must write ``./results`` as the person who
cloned the lab, whatever their uid, without asking them to pass it in. So the
container starts as root holding two capabilities and nothing else (SETUID
and SETGID, see compose.yaml), reads the owner of the bind-mounted results
folder, and becomes that user and group before labbench starts. Changing to
a uid other than 0 clears every capability (setuid(2)); when the folder is
root's (root cloned the lab, as in CI), the capabilities are dropped
explicitly, and no-new-privileges keeps them from coming back on exec. Either
way labbench and Locust run with none.

Started as anyone but root (``LAB_UID``/``LAB_GID`` set, or a rootless
engine), it changes nothing and runs labbench as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from labbench import cli

# capset(2): version 3 takes two 32-bit words per set; zero in all drops all.
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Empty this process's effective, permitted and inheritable capability sets."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"capset: {os.strerror(error)}")


def capabilities() -> dict[str, int]:
    """This process's capability sets as the kernel reports them (Linux)."""
    sets = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            sets[key] = int(value.strip(), 16)
    return sets


def become_owner(folder: Path) -> tuple[int, int]:
    """Switch to the uid and gid that own ``folder``, with no capabilities left."""
    owner = folder.stat()
    os.setgroups([])
    os.setgid(owner.st_gid)
    os.setuid(owner.st_uid)
    if owner.st_uid == 0:
        drop_capabilities()
    left = {key: value for key, value in capabilities().items() if value}
    if left:
        raise OSError(f"capabilities left after switching to uid {owner.st_uid}: {left}")
    return owner.st_uid, owner.st_gid


def main() -> int:
    if os.getuid() == 0:
        folder = Path(os.environ.get("LAB_RESULTS", "results"))
        try:
            become_owner(folder)
        except OSError as error:
            print(f"labbench: error: cannot run as the owner of {folder}: {error}", file=sys.stderr)
            return 2
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
