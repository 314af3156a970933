"""Package names loaded on first use (PEP 562), for packages whose `__init__` re-exports their modules' names.

Importing one small module of a package (a duration parser, a timestamp format) runs the package's `__init__`
first; if that imported every module, `conductor status` would pay for the org schema and the store's writer
it never uses. A package lists where each name lives and gets its `__getattr__` from here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `where[name]` on first use and keeps the value in the package."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
