"""The request context every handler receives."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pvesim.access import Identity
from pvesim.api.errors import ApiError
from pvesim.spec.types import Method
from pvesim.tasks import StepLike, Task

if TYPE_CHECKING:
    from pvesim.cluster import Cluster


class Context:
    """One authenticated, validated request.

    ``params`` holds only the parameters the client sent (typed: int, float, bool, str) plus
    the path variables; ``get`` falls back to the declared default. Handlers run under
    ``cluster.lock`` with due tasks already applied.
    """

    __slots__ = ("cluster", "identity", "method", "now", "params", "path", "spec", "total")

    def __init__(
        self,
        *,
        cluster: Cluster,
        spec: Method,
        params: dict[str, Any],
        identity: Identity | None,
        path: str,
        now: float,
    ) -> None:
        self.cluster = cluster
        self.spec = spec
        self.method = spec.method
        self.params = params
        self.identity = identity
        self.path = path
        self.now = now
        self.total: int | None = None
        """Set by list handlers whose envelope carries ``total`` (task lists and logs)."""

    @property
    def user(self) -> Identity:
        """The caller; only world-callable handlers may run without one."""
        if self.identity is None:
            raise ApiError(401, "No ticket", empty_body=True)
        return self.identity

    def get(self, name: str, default: Any = None) -> Any:
        """The given value, else the declared default (typed), else ``default``."""
        if name in self.params:
            return self.params[name]
        param = self.spec.param_for(name)
        if param is None or param.default is None:
            return default
        if param.type == "boolean":
            return param.default == "1"
        if param.type == "integer":
            return int(param.default)
        if param.type == "number":
            return float(param.default)
        return param.default

    # ---- permissions -------------------------------------------------------------------

    def can(self, path: str, privs: str | Iterable[str], *, any_: bool = False) -> bool:
        """Silent check, for filtering lists the way PVE does."""
        wanted = [privs] if isinstance(privs, str) else list(privs)
        return self.cluster.evaluator.has(self.user, path, wanted, any_=any_)

    def check(self, path: str, privs: str | Iterable[str], *, any_: bool = False) -> None:
        """Raise PVE's 403 ``Permission check failed (<path>, <priv>)`` when not allowed."""
        wanted = [privs] if isinstance(privs, str) else list(privs)
        held = self.cluster.evaluator.privileges(self.user, path)
        if any_:
            if not any(p in held for p in wanted):
                raise ApiError(403, f"Permission check failed ({path}, {'|'.join(wanted)})")
            return
        for priv in wanted:
            if priv not in held:
                raise ApiError(403, f"Permission check failed ({path}, {priv})")

    def check_root(self, param: str | None = None) -> None:
        """Root-only options: PVE answers with a parameter error naming the option."""
        if not self.user.is_root:
            if param is not None:
                raise ApiError(
                    400, "Parameter verification failed.", {param: "Only root may use this option."}
                )
            raise ApiError(403, "Permission check failed")

    # ---- nodes and tasks ---------------------------------------------------------------

    def require_node(self, node: str, *, online: bool = True) -> Any:
        """The estate node ``node``, as a proxied request needs it to exist (and be up)."""
        found = self.cluster.estate.nodes.get(node)
        if found is None:
            raise ApiError(500, f"no such cluster node '{node}'")
        if online and not found.online:
            raise ApiError(595, f"Connection refused - node '{node}' is offline")
        return found

    def start_task(
        self,
        *,
        node: str,
        type: str,
        id: str | int = "",
        steps: Iterable[StepLike],
        on_done: Callable[[], Any] | None = None,
        on_fail: Callable[[str], Any] | None = None,
    ) -> str:
        """Start a worker owned by the caller and return its UPID.

        ``steps`` are ``Step``s or ``(seconds, log[, run])`` tuples; ``on_done`` runs when the
        last step passes, ``on_fail(message)`` when a step raises or the task is stopped or
        failed by the control API (release locks there).
        """
        return self.start_task_obj(
            node=node, type=type, id=id, steps=steps, on_done=on_done, on_fail=on_fail
        ).upid

    def start_task_obj(
        self,
        *,
        node: str,
        type: str,
        id: str | int = "",
        steps: Iterable[StepLike],
        on_done: Callable[[], Any] | None = None,
        on_fail: Callable[[str], Any] | None = None,
    ) -> Task:
        """Like :meth:`start_task` but returns the :class:`Task` (e.g. to add warnings)."""
        estate_node = self.cluster.estate.nodes.get(node)
        return self.cluster.tasks.start(
            now=self.now,
            node=node,
            type=type,
            id=str(id),
            user=self.user.full,
            steps=steps,
            on_done=on_done,
            on_fail=on_fail,
            boot_time=getattr(estate_node, "boot_time", None) or None,
        )
