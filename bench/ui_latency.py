"""Control room latency (issue 6, acceptance 5): launch to first frame, and keypress to frame while 200 events
a second arrive.

Everything is measured from the outside, as a person at a terminal would see it: the control room runs as a
real `conductor attach` (and `conductor tui`) process in a pseudo-terminal, and a frame "arrives" when its
bytes reach the terminal. A writer thread commits events into the database at the requested rate, as a busy
headless run would. Two kinds of keypress are timed, each from writing the key to the terminal until what it
asked for has been drawn: moving in the stream (`k` stops following, so the Activity title says "G follows";
`G` follows again, "following") and switching panes (`2` draws the Inbox, whose header says "expires"; `1` the
Activity pane). The stream keeps scrolling at the event rate all along, so every frame carries its share of
the 200 events a second.

    python -m bench.ui_latency --events-per-s 200 --presses 30
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, median, percentile, print_result

STUDIO = ROOT / "src" / "conductor" / "examples" / "studio.toml"
SIZE = (120, 36)  # columns, rows
FIRST_FRAME_MARKER = b"Northwind Studio"
MOVES = ((b"k", b"G follows"), (b"G", b"following"))
PANES = ((b"2", b"expires"), (b"1", b"following"))


class Terminal:
    """A process in a pseudo-terminal, with every byte it writes kept with the time it arrived."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1])}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
        env.pop("CONDUCTOR_DB", None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.chunks: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._done.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.chunks.append((time.perf_counter(), data))

    def mark(self) -> int:
        with self._lock:
            return len(self.chunks)

    def wait_for(self, marker: bytes, since: int, timeout: float) -> float | None:
        """The arrival time of the chunk that completes `marker`, looking only at output after chunk `since`."""
        deadline = time.perf_counter() + timeout
        seen = b""
        index = since
        while time.perf_counter() < deadline:
            with self._lock:
                fresh = self.chunks[index:]
            for at, data in fresh:
                seen = seen[-len(marker):] + data
                index += 1
                if marker in seen:
                    return at
            time.sleep(0.001)
        return None

    def press(self, key: bytes) -> float:
        at = time.perf_counter()
        os.write(self.master, key)
        return at

    def close(self) -> None:
        try:
            os.write(self.master, b"\x11")  # ctrl+q: Textual's own quit, no confirmation
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._done.set()
        self._reader.join(timeout=2)
        os.close(self.master)


class EventWriter(threading.Thread):
    """Commits `rate` events a second, in 20 batches a second, the way a busy run's group commit would."""

    def __init__(self, db: Path, rate: int) -> None:
        super().__init__(daemon=True)
        self.db, self.rate = db, rate
        self.written = 0
        self.stop = threading.Event()
        self.elapsed = 0.0

    def run(self) -> None:
        from conductor.store import NewEvent, commit_events, open_database

        conn = open_database(self.db)
        agents = [("inkwell", "inkwell-ceo"), ("ledgerly", "ledgerly-cto"), ("tidepool", "tidepool-cmo")]
        batches_per_s = 20
        per_batch = max(1, self.rate // batches_per_s)
        started = time.perf_counter()
        n = 0
        try:
            while not self.stop.is_set():
                venture, agent = agents[n % len(agents)]
                events = [NewEvent("agent.concluded", {"summary": f"bench step {n}-{i}: a steady stream of work",
                                                       "next_wake": "2026-01-05T15:00:00.000000Z"},
                                   venture=venture, agent=agent, sim_time="2026-01-05T09:00:00.000000Z")
                          for i in range(per_batch)]
                commit_events(conn, events)
                self.written += len(events)
                n += 1
                next_at = started + n / batches_per_s
                time.sleep(max(0.0, next_at - time.perf_counter()))
        finally:
            self.elapsed = time.perf_counter() - started
            conn.close()


def prepare(db: Path) -> None:
    """A database with the example studio recorded, as `conductor init` leaves it."""
    from conductor.org import load_org
    from conductor.services.setup import record_org
    from conductor.store import open_database

    conn = open_database(db)
    try:
        record_org(conn, load_org(STUDIO), STUDIO)
    finally:
        conn.close()


def first_frame(args: list[str], cwd: Path) -> float:
    term = Terminal(args, cwd)
    try:
        at = term.wait_for(FIRST_FRAME_MARKER, 0, timeout=30)
        if at is None:
            raise RuntimeError("the control room drew no first frame within 30 s")
        return at - term.started
    finally:
        term.close()


def measure(events_per_s: int = 200, presses: int = 30) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ui-latency-") as tmp:
        work = Path(tmp)
        db = work / "conductor.db"
        prepare(db)
        attach = [sys.executable, "-m", "conductor", "attach", "--db", str(db)]
        launch = [first_frame(attach, work) for _ in range(3)]
        tui_db = work / "tui.db"
        tui = [sys.executable, "-m", "conductor", "tui", str(STUDIO), "--db", str(tui_db), "--pace", "60"]
        launch_tui = first_frame(tui, work)

        writer = EventWriter(db, events_per_s)
        term = Terminal(attach, work)
        latencies: dict[str, list[float]] = {"move": [], "pane": []}
        missed = 0
        try:
            if term.wait_for(FIRST_FRAME_MARKER, 0, timeout=30) is None:
                raise RuntimeError("the control room drew no first frame within 30 s")
            if events_per_s > 0:
                writer.start()
            time.sleep(1.5)  # let the stream settle into its rate
            for kind, pairs in (("move", MOVES), ("pane", PANES)):
                for i in range(presses):
                    key, marker = pairs[i % 2]
                    since = term.mark()
                    pressed = term.press(key)
                    drawn = term.wait_for(marker, since, timeout=5)
                    if drawn is None:
                        missed += 1
                    else:
                        latencies[kind].append((drawn - pressed) * 1000)
                    time.sleep(0.15)
        finally:
            writer.stop.set()
            if writer.is_alive():
                writer.join(timeout=5)
            term.close()
        rate = writer.written / writer.elapsed if writer.elapsed else 0.0
    every = latencies["move"] + latencies["pane"]
    return {
        "launch_to_first_frame_s": round(median(launch), 3),
        "launch_to_first_frame_tui_s": round(launch_tui, 3),
        "keypress_to_frame_ms_median": round(median(every), 1),
        "keypress_to_frame_ms_p95": round(percentile(every, 95), 1),
        "move_key_ms_median": round(median(latencies["move"]), 1),
        "move_key_ms_p95": round(percentile(latencies["move"], 95), 1),
        "pane_switch_ms_median": round(median(latencies["pane"]), 1),
        "pane_switch_ms_p95": round(percentile(latencies["pane"], 95), 1),
        "keypresses": len(every),
        "keypresses_missed": missed,
        "events_per_s": round(rate),
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
    }


def run(events_per_s: int = 200, presses: int = 30) -> dict[str, Any]:
    return measure(events_per_s, presses)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events-per-s", type=int, default=200)
    parser.add_argument("--presses", type=int, default=30, help="Presses of each kind (moves, pane switches).")
    args = parser.parse_args()
    result = run(args.events_per_s, args.presses)
    print_result(result)


if __name__ == "__main__":
    main()
