"""Worker processes that end with the process that started them.

A process pool's workers outlive a parent killed with SIGKILL (no cleanup runs): they finish
the task at hand (minutes of placement or simulation) and then wait forever on a queue
nobody writes to, holding memory and cores. :func:`die_with_parent` as the pool's
initializer asks the kernel to kill each worker when its parent goes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

#: ``prctl`` option: signal sent to this process when its parent thread exits (Linux).
_PR_SET_PDEATHSIG = 1


def _set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent exits; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (cannot be our parent then)
        return True
    return True


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: kill this worker (SIGKILL) as soon as ``parent_pid`` dies.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere a no-op apart from the start-up
    check. A parent that died while the worker was starting (before the request took
    effect) is caught by checking that it is still alive afterwards.
    """
    _set_parent_death_signal(signal.SIGKILL)
    if not _alive(parent_pid):
        os._exit(1)
