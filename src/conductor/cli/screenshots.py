"""Regenerate the README's screenshots: one SVG per pane of the control room, on the demo seed.

    python -m conductor.cli.screenshots screenshots/

Runs the example studio headless for `--days` simulated days on the simulated model (fixed seed: the same
pictures on every machine), then opens the control room on that database without a terminal and exports
what each pane shows. SVGs are written with LF line endings (.gitattributes keeps them so).

It lives with the CLI because it drives both the headless run (`cli.run_cmd`) and the control room (`tui`):
only the top layer may import both; the TUI never imports the CLI.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# (file name, keys pressed after the first frame, what it shows)
SHOTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("activity", (), "Activity: the live stream"),
    ("inbox", ("2",), "Inbox: what needs the founder"),
    ("inbox-detail", ("2", "enter"), "Inbox: one escalation in full"),
    ("brain", ("3",), "Brain: versions per venture"),
    ("brain-diff", ("3", "c"), "Brain: what changed between two versions"),
    ("metrics", ("4",), "Metrics: sparklines, spend, decision quality"),
    ("org", ("5",), "Org: the org chart"),
    ("help", ("2", "question_mark"), "Help: the keys of the pane in front"),
)
FIXED_NOW = datetime(2026, 2, 9, 12, 0, tzinfo=UTC)


def build_database(db: Path, days: float) -> None:
    from conductor.cli.main import example_org_path
    from conductor.cli.run_cmd import run_headless

    run_headless(example_org_path(), db, days=days, live=False)


def shoot(db: Path, keys: Sequence[str], size: tuple[int, int], title: str) -> str:
    """One SVG of the control room on `db` after pressing `keys`, once every worker has delivered."""
    from conductor.tui.app import make_app

    app = make_app(db, clock=lambda: FIXED_NOW, poll_interval=0.05)

    async def settle(pilot: Any) -> None:
        for _ in range(3):
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()

    async def auto_pilot(pilot: Any) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        app.exit(app.export_screenshot(title=title))

    svg = app.run(headless=True, size=size, auto_pilot=auto_pilot)
    app.reader.close()
    app.desk.close()
    assert isinstance(svg, str)
    return svg


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("screenshots"), help="Where the SVGs go.")
    parser.add_argument("--days", type=float, default=39.5,
                        help="Simulated days of the demo before the pictures (ending mid-day: today has spend).")
    parser.add_argument("--size", default="120x36", help="Terminal size, COLUMNSxROWS.")
    parser.add_argument("--db", type=Path, default=None, help="Use this database instead of running the demo.")
    args = parser.parse_args(argv)
    columns, rows = (int(x) for x in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="conductor-shots-") as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "demo.db"
            print(f"running the demo for {args.days:g} simulated days…")
            build_database(db, args.days)
        for name, keys, title in SHOTS:
            path = args.out / f"{name}.svg"
            svg = shoot(db, keys, (columns, rows), f"conductor · {title}")
            path.write_text(svg.replace("\r\n", "\n"), encoding="utf-8", newline="\n")
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
