"""The layers only point down (docs/architecture.md), and no package reaches into another's private names.

The import contract is pyproject.toml's `[tool.importlinter]`, checked by `lint-imports` (import-linter): these
tests run it on the code as it is, and on a copy with upward imports planted, to show each rule can fail.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "conductor"

# import-linter is in the test extra; run through this interpreter, so no `lint-imports` on PATH is needed.
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint_imports(src: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache", "--no-logo", str(config)], cwd=config.parent,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_code_keeps_the_import_contract() -> None:
    result = lint_imports(SRC, ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


# (module to plant the import in, the import, the contract that must name it)
PLANTED = (
    ("brain/memory.py", "conductor.engine.scheduler", "brain does not import engine"),
    ("services/founder.py", "conductor.engine.state", "services do not import engine"),
    ("store/events.py", "conductor.services.queries", "store imports nothing above it"),
    ("tui/format.py", "conductor.cli.shared", "tui does not import cli"),
    ("tui/desk.py", "conductor.engine.policy", "tui reaches the engine only through its runner"),
    ("sim/provider.py", "conductor.store.events", "sim imports no engine, brain or store"),
)


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """Upward imports hidden inside functions, as the old ones were, each break their rule by name."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "conductor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for module, target, _ in PLANTED:
        path = src / "conductor" / module
        path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _planted() -> None:\n    import {target}\n",
                        encoding="utf-8")
    result = lint_imports(src, tmp_path / "pyproject.toml")
    assert result.returncode != 0
    out = " ".join(result.stdout.split())  # contract names may wrap
    assert "Layers point down BROKEN" in out
    for module, target, contract in PLANTED:
        source = "conductor." + module.removesuffix(".py").replace("/", ".")
        assert f"{contract} BROKEN" in out, contract
        assert f"{source} -> {target}" in out, (source, target)


def _package(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


# Private attributes read on purpose, each with why: third-party internals litellm offers no public hook for,
# and a widget reading its own module's tree.
PRIVATE_ALLOWED = {
    ("engine/litellm_tuning.py", "dispatch_success_logging._conductor_tuned"),
    ("engine/litellm_tuning.py", "Logging._response_cost_calculator"),
    ("sim/provider.py", "model_response._hidden_params"),
    ("tui/widgets/org_chart.py", "tree._venture_of"),
}


def test_no_module_reaches_into_another_packages_private_names() -> None:
    """`from conductor.x import _name` only within package x; `obj._name` only on self or cls (or listed)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("conductor."):
                other = node.module.split(".")[1]  # type: ignore[union-attr]
                found += [f"{rel}: from {node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and other != _package(path)]
            elif (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                  and (rel, ast.unparse(node)) not in PRIVATE_ALLOWED):
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "private names used across modules:\n" + "\n".join(found)
