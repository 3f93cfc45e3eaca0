"""Per-process fan-out of live events: one channel-layer reader per process, not one per tab.

Handing a message from the channel layer to a consumer costs some 190 us (the layer's
receive, Channels' dispatch); a publish to a role group of 500 tabs in one process cost
~95 ms of CPU, so a burst of events backed up for seconds. Here each process joins every
group its tabs need once, with one process channel, and one reader task appends each
event straight into the local consumers' buffers (under a microsecond each). Group
membership, coalescing, numbering and pacing stay the consumer's.

Publishers ``group_send`` to the group a message that names it
(``realtime.event_message``); the channel layer delivers one message per process and
group. A session close is passed on to each consumer's own
channel, so it runs in the consumer like any message. If the reader loses the layer (Redis
down) its events may be lost: every local connection is told to resync.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from governance.core.realtime import CLOSE_TYPE, MESSAGE_TYPE

logger = logging.getLogger(__name__)

# Seconds before the reader retries a channel layer that failed.
RETRY_AFTER = 1.0


class LocalConsumer(Protocol):
    """What the hub needs of a connection (``LiveConsumer`` is one)."""

    channel_name: str

    def deliver(self, event: str, payload: Any) -> None: ...

    def must_resync(self) -> None: ...


class FanoutHub:
    """This process's live connections by group, for one channel layer and event loop."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.members: dict[str, set[LocalConsumer]] = {}
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None
        # Joins and leaves reach the layer in the order they happen here: a leave of the
        # last member must not overtake the join of the next one.
        self.lock = asyncio.Lock()

    async def register(self, consumer: LocalConsumer, groups: list[str]) -> None:
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            for group in groups:
                # Joined again on every register: refreshes the layer's group expiry.
                await self.layer.group_add(group, self.channel)
                self.members.setdefault(group, set()).add(consumer)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.create_task(self._read())

    async def unregister(self, consumer: LocalConsumer, groups: list[str]) -> None:
        async with self.lock:
            for group in groups:
                local = self.members.get(group)
                if local is None:
                    continue
                local.discard(consumer)
                if not local:
                    del self.members[group]
                    await self.layer.group_discard(group, self.channel)
            if not self.members and self.reader is not None:
                self.reader.cancel()
                self.reader = None

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
                await self.dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Some tabs may have missed an event: all of them refetch.
                logger.exception("live fan-out: channel layer receive failed")
                self._everyone_resyncs()
                await asyncio.sleep(RETRY_AFTER)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Hand one group message to the local members of its group."""
        group = message.get("group")
        if group is None:
            logger.warning("live fan-out: %s message without a group", message.get("type"))
            return
        targets = list(self.members.get(group, ()))
        if message.get("type") == MESSAGE_TYPE:
            for consumer in targets:
                consumer.deliver(message["event"], message["payload"])
        elif message.get("type") == CLOSE_TYPE:
            for consumer in targets:
                await self.layer.send(consumer.channel_name, {"type": CLOSE_TYPE})

    def _everyone_resyncs(self) -> None:
        for consumer in {c for local in self.members.values() for c in local}:
            consumer.must_resync()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FanoutHub] = weakref.WeakKeyDictionary()


def hub_for(layer: Any) -> FanoutHub:
    """The hub of the running loop for ``layer`` (layers and their connections are per
    loop; tests swap the layer between runs)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = FanoutHub(layer)
    return hub
