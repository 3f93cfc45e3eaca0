"""Compact declarations of every implemented PVE API method, one module per domain.

A domain module defines ``METHODS: list[Method]`` (see :mod:`pvesim.spec.types` for the DSL).
Modules are discovered automatically: adding ``pvesim/spec/<domain>.py`` is enough.
``tests/pvesim/test_conformance.py`` holds every declaration against the official schema.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from pvesim.spec.types import Method

__all__ = ["Method", "all_methods"]


@cache
def all_methods() -> dict[tuple[str, str], Method]:
    """Every declared method keyed by ``(HTTP method, path template)``; duplicates fail loudly."""
    methods: dict[tuple[str, str], Method] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "types":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for method in getattr(module, "METHODS", ()):
            if method.key in methods:
                raise RuntimeError(f"{method.method} {method.path} declared twice ({info.name})")
            methods[method.key] = method
    return methods
