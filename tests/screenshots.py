"""SVG screenshots of the control room over a database, taken in a subprocess.

A fresh interpreter keeps Textual's event loop away from tests that call asyncio.run() (textual#5788). The
control room opens attached to `db` (no scheduler), settles, and is saved after each key in `keys`, so a test
can search what the founder would see on each pane for something that must not be there.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from tui_support import control_room_app, settle

    async def main() -> None:
        out = Path({out!r})
        app = control_room_app(Path({db!r}))
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            out.joinpath("room.svg").write_text(app.export_screenshot())
            for n, key in enumerate({keys!r}):
                await pilot.press(key)
                await settle(pilot)
                out.joinpath(f"room-{{n}}.svg").write_text(app.export_screenshot())

    asyncio.run(main())
""")


def take_screenshots(db: Path, out: Path, keys: tuple[str, ...] = ("2", "enter", "3", "4", "5"),
                     env: dict[str, str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    script = _SCRIPT.format(tests=str(TESTS), db=str(db), out=str(out), keys=list(keys))
    proc = subprocess.run([sys.executable, "-c", script], env=env or dict(os.environ), capture_output=True,
                          text=True, timeout=180, cwd=TESTS.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sorted(out.iterdir())


_TEXT = re.compile(r'<text\b[^>]*?clip-path="url\(#[^)]*?-line-(\d+)\)"[^>]*>(.*?)</text>', re.S)


def screen_text(svg: str) -> str:
    """The text a screenshot shows, line by line, as the founder reads it (the SVG splits lines into runs)."""
    lines: dict[int, list[str]] = {}
    for number, run in _TEXT.findall(svg):
        lines.setdefault(int(number), []).append(html.unescape(run).replace("\xa0", " "))
    return "\n".join("".join(lines[n]).rstrip() for n in sorted(lines))
