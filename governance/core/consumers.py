"""Websocket consumers."""

from __future__ import annotations

import asyncio
from itertools import count
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from governance.accounts.mfa import session_owes_factor
from governance.accounts.roles import roles_of
from governance.core.live_fanout import hub_for
from governance.core.realtime import coalesce_key, role_group, session_group, user_group

# Application close code for "not signed in", mirroring HTTP 401 as WebSocket 4xxx
# codes are reserved for applications; live.js stops reconnecting when it sees it.
CLOSE_UNAUTHENTICATED = 4401


class EventBuffer:
    """Events waiting for the next frame, newest last; a keyed event replaces the unsent
    one of the same name and key. Bounded: past ``limit`` it drops everything and
    remembers that the browser must resync, so a slow tab costs little memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.overflowed = False
        self._events: dict[tuple[str, str], dict[str, Any]] = {}
        self._unkeyed = count()

    def __bool__(self) -> bool:
        return bool(self._events) or self.overflowed

    def add(self, event: str, payload: Any) -> None:
        key = coalesce_key(event, payload)
        slot = (event, f"k:{key}") if key is not None else ("", f"n:{next(self._unkeyed)}")
        # Popped first so the newest state takes the newest place in the order.
        self._events.pop(slot, None)
        self._events[slot] = {"event": event, "payload": payload}
        if len(self._events) > self.limit:
            self.overflow()

    def overflow(self) -> None:
        """Drop what is buffered: events were lost elsewhere, the browser must resync."""
        self._events.clear()
        self.overflowed = True

    def take(self) -> tuple[list[dict[str, Any]], bool]:
        """The buffered events and whether some were dropped; empties the buffer."""
        events, overflowed = list(self._events.values()), self.overflowed
        self._events.clear()
        self.overflowed = False
        return events, overflowed


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Live updates for a signed-in user: forwards events published to their groups.

    Coalesced and numbered (the contract is in ``governance.core.realtime``): a burst of
    thousands of changes costs a tab one frame a second, not thousands. The connection is
    read-only from the browser's side: anything it sends is ignored, so a client can
    never make the server publish to someone else.
    """

    # Seconds between two frames of one connection.
    flush_interval = 1.0
    # Distinct unsent events one connection keeps before it gives up and asks a resync.
    buffer_limit = 500

    # Not Channels' static ``groups``: these depend on who connected.
    live_groups: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        # A session that still owes its second factor gets no live events either.
        owes_factor = await database_sync_to_async(session_owes_factor)(self.scope.get("session"))
        if user is None or not user.is_authenticated or owes_factor:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.seq = 0
        self.buffer = EventBuffer(self.buffer_limit)
        self.last_flush = float("-inf")
        self.flush_task: asyncio.Task | None = None
        # Events wait in the buffer until the socket is accepted, and stop on close.
        self.open = False
        roles = await database_sync_to_async(roles_of)(user)
        self.live_groups = [user_group(user.pk), *sorted(role_group(role) for role in roles)]
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key:
            self.live_groups.append(session_group(session_key))
        # Joined through this process's hub, which reads each group once for all its tabs.
        self.hub = hub_for(self.channel_layer)
        await self.hub.register(self, self.live_groups)
        await self.accept()
        self.open = True
        if self.buffer:
            self._schedule_flush()

    async def disconnect(self, code: int) -> None:
        self.open = False
        self._cancel_flush()
        if hasattr(self, "hub"):
            await self.hub.unregister(self, self.live_groups)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Ignore client messages; the browser only listens."""

    def deliver(self, event: str, payload: Any) -> None:
        """Buffer one event of this connection's groups (called by the process's hub)."""
        self.buffer.add(event, payload)
        if self.open:
            self._schedule_flush()

    def must_resync(self) -> None:
        """Events of this connection's groups were lost on the way: ask for a resync."""
        self.buffer.overflow()
        if self.open:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self.flush_task is not None:
            return  # the frame already due carries the new events too
        wait = self.last_flush + self.flush_interval - asyncio.get_running_loop().time()
        self.flush_task = asyncio.create_task(self._flush_after(max(wait, 0.0)))

    async def live_close(self, message: dict[str, Any]) -> None:
        """The login session behind this connection ended: stop delivering to it."""
        self.open = False
        self._cancel_flush()
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _flush_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.flush_task = None
        await self._flush()

    async def _flush(self) -> None:
        events, overflowed = self.buffer.take()
        if not events and not overflowed:
            return
        self.seq += 1
        self.last_flush = asyncio.get_running_loop().time()
        frame: dict[str, Any] = {"seq": self.seq, "events": events}
        if overflowed:
            frame["resync"] = True
        await self.send_json(frame)

    def _cancel_flush(self) -> None:
        task = getattr(self, "flush_task", None)
        if task is not None:
            task.cancel()
            self.flush_task = None
