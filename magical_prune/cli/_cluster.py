"""The ``--scheduler`` option of the commands that can run on a Dask cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

SCHEDULER_HELP = (
    "Run the work on a Dask cluster: the address of its scheduler (tcp://host:8786), or "
    "'local' for a LocalCluster of --jobs workers on this machine. Same output as without "
    "it; only this process writes files (workers need no shared storage). Needs the "
    "'cluster' extra: pip install 'magical-prune[cluster]'."
)


def scheduler_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--scheduler ADDRESS`` (default: none, the local process pool)."""
    return click.option("--scheduler", default=None, metavar="ADDRESS", help=SCHEDULER_HELP)(func)
