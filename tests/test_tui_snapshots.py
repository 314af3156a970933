"""How each pane, the inbox detail, the brain diff and the help screen look, on a fixed run and a fixed size.

The database is fifteen and a half simulated days of the example studio (brains that changed by then) made by `conductor run` in a subprocess (fixed
seed, simulated clock), once per session. These tests are synchronous on purpose and live apart from the
async ones (textual#5788). After an intended change, look at snapshot_report.html, then update with
`python -m pytest tests/test_tui_snapshots.py --snapshot-update -n 0` (in one process, syrupy also deletes the
snapshot of a test that is gone; across pytest-xdist workers it cannot tell, so the last test here checks it).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_support import STUDIO, control_room_app, run_headless, settle

SIZE = (100, 30)


@pytest.fixture(autouse=True)
def event_loop_for_snapshots() -> Any:
    """A current event loop for `snap_compare` (it runs the app with asyncio.get_event_loop()): an earlier test in
    the session that called asyncio.run() leaves none behind (textual#5788)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(scope="session")
def studio_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("tui-snapshots") / "studio.db"
    run_headless(STUDIO, db, "--days", "15.5")
    return db


def keys(*presses: str) -> Callable[[Any], Any]:
    """Press keys, then wait until every worker they started has delivered (detail loads, previews).

    Toasts are cleared before the picture: one lives 8 seconds of wall time, so whether it is still on screen
    depends on the machine's load, not on the room (the warning before an escalation lapses, the toast a
    stopped room can show, has its own test in tests/test_tui_widgets.py)."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    return run_before


def shot(snap_compare: Any, db: Path, *presses: str, size: tuple[int, int] = SIZE, **kwargs: Any) -> bool:
    return snap_compare(control_room_app(db, **kwargs), run_before=keys(*presses), terminal_size=size)


def test_activity_pane(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db)


def test_activity_pane_at_80x24(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, size=(80, 24))


def test_inbox_pane(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "2")


def test_inbox_pane_uses_the_width_at_200x60(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "2", size=(200, 60))


def test_inbox_detail(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "2", "enter")


def test_brain_pane(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "3")


def test_brain_diff(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "3", "j", "c")  # ledgerly v3 against v2


def test_metrics_pane(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "4")


def test_org_pane(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "5")


def test_org_pane_in_the_light_theme(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "5", theme="textual-light")


def test_help_screen(snap_compare: Any, studio_db: Path) -> None:
    assert shot(snap_compare, studio_db, "2", "question_mark")


VIEWS = {"inbox": ("2",), "detail": ("2", "enter"), "brain-diff": ("3", "j", "c"), "metrics": ("4",), "org": ("5",)}


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_views_at_the_smallest_and_a_large_terminal(snap_compare: Any, studio_db: Path, view: str,
                                                     size: tuple[int, int]) -> None:
    """The founder's main views at 80x24 (nothing covered, no column cut beside empty space) and 160x48 (the
    room uses the width)."""
    assert shot(snap_compare, studio_db, *VIEWS[view], size=size)


def test_every_snapshot_belongs_to_a_test() -> None:
    """A snapshot left behind by a renamed or deleted test fails the run in one process (syrupy's check of unused
    snapshots), but not across pytest-xdist workers, which is how the suite runs: checked here instead."""
    here = Path(__file__)
    folder = here.parent / "__snapshots__" / here.stem
    snapshots = {p.name.removesuffix(".svg").split("[")[0] for p in folder.iterdir()}
    tests = {name for name, f in globals().items()
             if name.startswith("test_") and callable(f) and "snap_compare" in inspect.signature(f).parameters}
    assert tests and snapshots
    assert snapshots - tests == set(), "snapshots of no test: delete them, or update with -n 0"
