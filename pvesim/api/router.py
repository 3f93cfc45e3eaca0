"""Route registry and path resolution.

Handlers register with ``@route("GET", "/nodes/{node}/qemu/{vmid}/config")``; the path
template must match a declaration in ``pvesim.spec`` exactly (checked when the router is
built), so every served method is validated from its compact spec.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pvesim.api.errors import ApiError
from pvesim.spec import all_methods
from pvesim.spec.types import Method

if TYPE_CHECKING:
    from pvesim.api.context import Context

Handler = Callable[["Context"], Any]

_HANDLERS: dict[tuple[str, str], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register ``fn(ctx) -> data`` for one PVE method; the return value becomes ``data``."""

    def decorate(fn: Handler) -> Handler:
        key = (method, path)
        if key in _HANDLERS and _HANDLERS[key] is not fn:
            raise RuntimeError(f"{method} {path} has two handlers")
        _HANDLERS[key] = fn
        return fn

    return decorate


@dataclass(slots=True)
class Route:
    """A resolvable endpoint: its declaration and its handler."""

    spec: Method
    handler: Handler


@dataclass(slots=True)
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    variable: _Node | None = None
    variable_name: str | None = None
    routes: dict[str, Route] = field(default_factory=dict)


class Router:
    """A segment tree over path templates; literal segments win over ``{variables}``."""

    def __init__(self, handlers: dict[tuple[str, str], Handler]) -> None:
        specs = all_methods()
        self._root = _Node()
        for key, handler in handlers.items():
            spec = specs.get(key)
            if spec is None:
                raise RuntimeError(f"handler for {key[0]} {key[1]} has no spec declaration")
            self._add(Route(spec=spec, handler=handler))

    def _add(self, endpoint: Route) -> None:
        node = self._root
        for segment in _segments(endpoint.spec.path):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if node.variable is None:
                    node.variable, node.variable_name = _Node(), name
                elif node.variable_name != name:
                    raise RuntimeError(f"{endpoint.spec.path}: variable {name} clashes")
                node = node.variable
            else:
                node = node.literal.setdefault(segment, _Node())
        node.routes[endpoint.spec.method] = endpoint

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """Find the route for a concrete path; raise PVE's 501 when there is none."""
        variables: dict[str, str] = {}
        segments = [unquote(s) for s in _segments(path)]
        found = self._walk(self._root, segments, 0, variables)
        if found is None or method not in found.routes:
            raise ApiError(501, f"Method '{method} {path}' not implemented")
        return found.routes[method], variables

    def _walk(
        self, node: _Node, segments: list[str], index: int, variables: dict[str, str]
    ) -> _Node | None:
        if index == len(segments):
            return node
        segment = segments[index]
        child = node.literal.get(segment)
        if child is not None:
            found = self._walk(child, segments, index + 1, variables)
            if found is not None and found.routes:
                return found
        if node.variable is not None and segment:
            found = self._walk(node.variable, segments, index + 1, variables)
            if found is not None and found.routes:
                assert node.variable_name is not None
                variables[node.variable_name] = segment
                return found
        return None


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def load_handlers() -> dict[tuple[str, str], Handler]:
    """Import every module of ``pvesim.api`` (registering its routes) and return them all."""
    import pvesim.api as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    return dict(_HANDLERS)


@cache
def default_router() -> Router:
    """The process-wide router over every registered handler."""
    return Router(load_handlers())
