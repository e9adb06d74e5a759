"""``refflow generate --jobs N`` workers die with their parent, also on SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pid:
                found.add(int(entry))
    return found


def _running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # a zombie has ended


@linux_only
def test_workers_die_when_generate_is_killed(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "magical_prune.cli", "refflow", "generate", "ota3",
               "-o", str(tmp_path), "-n", "64", "--jobs", "2", "--no-simulate", "-q"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            workers = {w for w in _children(proc.pid) if _running(w)}
        assert len(workers) >= 2, proc.stderr.read().decode() if proc.poll() is not None else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = [w for w in workers if _running(w)]
    finally:
        if proc.poll() is None:
            proc.kill()
    for w in alive:  # clean up what the test started before failing
        os.kill(w, signal.SIGKILL)
    assert alive == []


@linux_only
@pytest.mark.parametrize("parent, alive", [("os.getppid()", True), ("2**22 + 12345", False)])
def test_start_up_check_of_the_parent(parent: str, alive: bool) -> None:
    # A parent that died before the worker's prctl took effect is caught at start-up;
    # 2**22 + 12345 is above the largest pid Linux hands out, so never a live process.
    code = (
        "import os\n"
        "from magical_prune._workers import die_with_parent\n"
        f"die_with_parent({parent})\n"
        "print('still here')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode == 0 and "still here" in out.stdout) is alive
