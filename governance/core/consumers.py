"""Websocket consumers."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from governance.accounts.roles import roles_of
from governance.core.realtime import role_group, session_group, user_group

# Application close code for "not signed in", mirroring HTTP 401 as WebSocket 4xxx
# codes are reserved for applications; live.js stops reconnecting when it sees it.
CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Live updates for a signed-in user: forwards events published to their groups.

    The connection is read-only from the browser's side: anything it sends is ignored,
    so a client can never make the server publish to someone else.
    """

    # Not Channels' static ``groups``: these depend on who connected.
    live_groups: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        roles = await database_sync_to_async(roles_of)(user)
        self.live_groups = [user_group(user.pk), *sorted(role_group(role) for role in roles)]
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key:
            self.live_groups.append(session_group(session_key))
        for group in self.live_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "live_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Ignore client messages; the browser only listens."""

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"event": message["event"], "payload": message["payload"]})

    async def live_close(self, message: dict[str, Any]) -> None:
        """The login session behind this connection ended: stop delivering to it."""
        await self.close(code=CLOSE_UNAUTHENTICATED)
