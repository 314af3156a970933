"""Watching the processes a run starts: which model workers its log says it started, and whether one still runs.

Shared by the tests that start `conductor run` with model workers (`test_model_workers`, `test_ctrl_c`).
"""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Running: a zombie (exited, its parent gone and not yet reaped by whoever adopted it) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def started_workers(log: str) -> list[int]:
    """The process ids of the model workers a run's log says it started."""
    return [int(line.rsplit("pid=", 1)[1].split()[0]) for line in log.splitlines() if "model worker started" in line]
