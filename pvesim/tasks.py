"""UPID tasks that run over simulated time.

A task is a list of :class:`Step`; each step becomes due ``seconds`` after the previous one.
When a step passes, its log lines appear and its ``run`` callback applies its state change
(e.g. a migration moves the guest only when its last step passes). ``run`` raising
:class:`TaskError` (or any exception, like a Perl ``die`` in a worker) fails the task. The
engine is advanced lazily by :meth:`TaskEngine.tick`, which the server calls before every
request and the control API after moving the clock, so no thread ever sleeps.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

UPID_RE = re.compile(
    r"UPID:(?P<node>[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):(?P<pid>[0-9A-Fa-f]{8}):"
    r"(?P<pstart>[0-9A-Fa-f]{8,9}):(?P<starttime>[0-9A-Fa-f]{8}):(?P<type>[^:\s]+):"
    r"(?P<id>[^:\s]*):(?P<user>[^:\s]+):"
)
MAX_FINISHED = 20_000  # finished tasks kept per cluster (PVE keeps an archive; ours is bounded)


class TaskError(Exception):
    """Raised by a step to end its task with ``TASK ERROR: <message>``."""


@dataclass(slots=True)
class Step:
    """One stage of a task: wait ``seconds``, then log ``log`` and apply ``run``."""

    seconds: float
    log: str | Sequence[str] = ()
    run: Callable[[], Any] | None = None


StepLike = Step | tuple[Any, ...]


def as_step(step: StepLike) -> Step:
    """Accept ``Step`` or the shorthand tuples ``(seconds, log)`` / ``(seconds, log, run)``."""
    return step if isinstance(step, Step) else Step(*step)


@dataclass(slots=True)
class Task:
    """A worker task; ``status`` is ``running`` until ``exitstatus`` is set."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    steps: list[Step] = field(default_factory=list, repr=False)
    lines: list[str] = field(default_factory=list)
    exitstatus: str | None = None
    endtime: int | None = None
    warnings: int = 0
    on_done: Callable[[], Any] | None = field(default=None, repr=False)
    on_fail: Callable[[str], Any] | None = field(default=None, repr=False)
    fail_with: str | None = None
    next_step: int = 0

    @property
    def status(self) -> str:
        return "running" if self.exitstatus is None else "stopped"

    @property
    def owner(self) -> str:
        """The user owning the task (a token's tasks belong to its user too)."""
        return self.user.split("!", 1)[0]

    def status_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": self.owner,
            "status": self.status,
        }
        if "!" in self.user:
            item["tokenid"] = self.user.split("!", 1)[1]
        if self.exitstatus is not None:
            item["exitstatus"] = self.exitstatus
        return item

    def list_item(self) -> dict[str, Any]:
        item = {k: v for k, v in self.status_item().items() if k not in ("exitstatus",)}
        item["user"] = self.user
        if self.exitstatus is not None:
            item["status"] = self.exitstatus
            item["endtime"] = self.endtime
        else:
            item.pop("status")
        return item

    def to_json(self) -> dict[str, Any]:
        return {
            "upid": self.upid,
            "lines": self.lines,
            "exitstatus": self.exitstatus,
            "endtime": self.endtime,
        }


def format_upid(
    *, node: str, pid: int, pstart: int, starttime: int, type: str, id: str, user: str
) -> str:
    """PVE::UPID format: 9 colon-separated fields with a trailing colon."""
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{type}:{id}:{user}:"


def parse_upid(upid: str) -> dict[str, Any] | None:
    """Decode a UPID, or None when it is malformed."""
    match = UPID_RE.fullmatch(upid)
    if match is None:
        return None
    fields = match.groupdict()
    return {
        "node": fields["node"],
        "pid": int(fields["pid"], 16),
        "pstart": int(fields["pstart"], 16),
        "starttime": int(fields["starttime"], 16),
        "type": fields["type"],
        "id": fields["id"],
        "user": fields["user"],
    }


class TaskEngine:
    """All tasks of one cluster; callers hold the cluster lock."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._pid = itertools.count(0x1000, 0x3B)
        self.fail_next: dict[str, str] = {}
        """Task type -> error message: the next task of that type fails (control API)."""

    def start(
        self,
        *,
        now: float,
        node: str,
        type: str,
        id: str,
        user: str,
        steps: Iterable[StepLike],
        on_done: Callable[[], Any] | None = None,
        on_fail: Callable[[str], Any] | None = None,
        boot_time: float | None = None,
    ) -> Task:
        """Create a running task whose first step is due ``steps[0].seconds`` from ``now``."""
        starttime = int(now)
        pstart = int(max(now - (boot_time if boot_time is not None else now - 86_400), 1) * 100)
        pid = next(self._pid) & 0xFFFFFFFF
        upid = format_upid(
            node=node, pid=pid, pstart=pstart, starttime=starttime, type=type, id=id, user=user
        )
        task = Task(
            upid=upid,
            node=node,
            pid=pid,
            pstart=pstart,
            starttime=starttime,
            type=type,
            id=id,
            user=user,
            steps=[as_step(s) for s in steps],
            on_done=on_done,
            on_fail=on_fail,
            fail_with=self.fail_next.pop(type, None),
        )
        self.tasks[upid] = task
        self._schedule(task, now)
        self._trim()
        return task

    def _schedule(self, task: Task, since: float) -> None:
        delay = task.steps[task.next_step].seconds if task.next_step < len(task.steps) else 0.0
        heapq.heappush(self._due, (since + delay, next(self._seq), task.upid))

    def tick(self, now: float) -> None:
        """Apply every step that is due at ``now``, in simulated-time order."""
        while self._due and self._due[0][0] <= now:
            due, _, upid = heapq.heappop(self._due)
            task = self.tasks.get(upid)
            if task is None or task.exitstatus is not None:
                continue
            self._advance(task, due)

    def _advance(self, task: Task, due: float) -> None:
        if task.next_step < len(task.steps):
            step = task.steps[task.next_step]
            task.next_step += 1
            task.lines.extend([step.log] if isinstance(step.log, str) else step.log)
            if step.run is not None:
                try:
                    step.run()
                except TaskError as exc:
                    self.finish(task, due, error=str(exc))
                    return
                except Exception as exc:  # a crashing step is a failed task, not a dead server
                    log.exception("task step failed: %s", task.upid)
                    self.finish(task, due, error=str(exc) or type(exc).__name__)
                    return
            if task.next_step < len(task.steps):
                self._schedule(task, due)
                return
        if task.fail_with is not None:
            self.finish(task, due, error=task.fail_with)
        else:
            self.finish(task, due)

    def finish(self, task: Task, now: float, *, error: str | None = None) -> None:
        """End a task: run its callback, write the final log line, set exitstatus."""
        if task.exitstatus is not None:
            return
        task.endtime = int(now)
        if error is None and task.on_done is not None:
            try:
                task.on_done()
            except TaskError as exc:
                error = str(exc)
            except Exception as exc:
                log.exception("task completion failed: %s", task.upid)
                error = str(exc) or type(exc).__name__
        if error is not None:
            error = error.strip().splitlines()[0] if error.strip() else "unexpected status"
            if task.on_fail is not None:
                try:
                    task.on_fail(error)
                except Exception:
                    log.exception("task failure hook failed: %s", task.upid)
            task.lines.append(f"TASK ERROR: {error}")
            task.exitstatus = error
        elif task.warnings:
            task.lines.append(f"TASK WARNINGS: {task.warnings}")
            task.exitstatus = f"WARNINGS: {task.warnings}"
        else:
            task.lines.append("TASK OK")
            task.exitstatus = "OK"

    def stop(self, task: Task, now: float) -> None:
        """DELETE /nodes/{node}/tasks/{upid}: the worker is interrupted."""
        self.finish(task, now, error="received interrupt")

    def fail_node(self, node: str, now: float) -> None:
        """A node went down: its running workers die without a clean end."""
        for task in list(self.tasks.values()):
            if task.node == node and task.exitstatus is None:
                self.finish(task, now, error="unexpected status")

    def _trim(self) -> None:
        if len(self.tasks) <= MAX_FINISHED:
            return
        for upid in [u for u, t in self.tasks.items() if t.exitstatus is not None][
            : len(self.tasks) - MAX_FINISHED
        ]:
            del self.tasks[upid]

    def to_json(self) -> list[dict[str, Any]]:
        return [t.to_json() for t in self.tasks.values()]

    def load_json(self, items: list[dict[str, Any]], now: float) -> None:
        """Restore tasks; workers that were running died with the old process."""
        for item in items:
            fields = parse_upid(item["upid"])
            if fields is None:
                continue
            task = Task(upid=item["upid"], **fields, lines=list(item.get("lines", [])))
            task.exitstatus = item.get("exitstatus")
            task.endtime = item.get("endtime")
            if task.exitstatus is None:
                task.lines.append("TASK ERROR: unexpected status")
                task.exitstatus, task.endtime = "unexpected status", int(now)
            self.tasks[task.upid] = task
