"""The suite runs on every core (`-n auto --dist loadgroup` in pyproject.toml); this keeps shared fixtures shared.

A module- or session-scoped fixture defined here in tests/ (a 60-day studio run, a scheduler left running, the
snapshot database) is built once per worker process. Spread over the workers one test at a time, its users would
build it once on each worker; so every test that uses such a fixture is put in one `xdist_group` with the other
users of that fixture (and, transitively, with the users of any other shared fixture it uses), and the group runs
on one worker. Every other test is handed out one at a time to whichever worker is free.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Start-up snapshots are signed with a key in the user's state directory (`conductor.engine.snapshot`): the
# suite keeps its own, and its child processes inherit it, so no test writes into the home directory.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="conductor-tests-state-")


def _shared_fixtures(item: pytest.Item) -> list[str]:
    """The module- and session-scoped fixtures, defined in tests/, that `item` uses (directly or not)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    shared = []
    for name in info.names_closure:
        for definition in info.name2fixturedefs.get(name, ()):
            code = getattr(definition.func, "__code__", None)
            if definition.scope in ("module", "session") and code is not None \
                    and Path(code.co_filename).resolve().is_relative_to(TESTS):
                shared.append(f"{Path(code.co_filename).stem}.{definition.argname}")
    return shared


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    uses = {item.nodeid: _shared_fixtures(item) for item in items}
    for names in uses.values():
        for name in names:
            parent[root(name)] = root(names[0])
    members: dict[str, list[str]] = {}
    for name in parent:
        members.setdefault(root(name), []).append(name)
    for item in items:
        if uses[item.nodeid]:
            group = min(members[root(uses[item.nodeid][0])])
            item.add_marker(pytest.mark.xdist_group(group))
