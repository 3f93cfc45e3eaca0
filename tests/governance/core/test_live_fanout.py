"""The per-process fan-out: one layer channel per process reads each group once and fills
the local connections' buffers; leaving, closing and a failing layer keep their meaning."""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from governance.core.consumers import LiveConsumer
from governance.core.live_fanout import hub_for
from governance.core.realtime import close_message, event_message, role_group, user_group

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("memory_channel_layer"),
]

ROLE = "auditor"


async def _connected(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    communicator.scope["user"] = user
    assert (await communicator.connect(timeout=5))[0]
    return communicator


async def _publish(group: str, event: str, payload: dict) -> None:
    await get_channel_layer().group_send(group, event_message(group, event, payload))


def test_a_role_group_holds_one_channel_per_process_and_reaches_every_tab(make_user):
    users = [make_user(ROLE) for _ in range(3)]

    @async_to_sync
    async def run() -> tuple[set, list[dict], set]:
        tabs = [await _connected(user) for user in users]
        members = set(get_channel_layer().groups[role_group(ROLE)])
        await _publish(role_group(ROLE), "policy.changed", {"key": "cluster.1"})
        frames = [await tab.receive_json_from(timeout=2) for tab in tabs]
        for tab in tabs:
            await tab.disconnect()
        return members, frames, set(get_channel_layer().groups.get(role_group(ROLE), ()))

    members, frames, after = run()
    assert len(members) == 1  # the process channel, not one per tab
    assert all(f["seq"] == 1 and f["events"][0]["event"] == "policy.changed" for f in frames)
    assert after == set()  # the last tab left: the process left the group


def test_a_user_event_reaches_only_that_users_tabs(make_user):
    alice, bob = make_user(ROLE), make_user(ROLE)

    @async_to_sync
    async def run() -> tuple[dict, bool]:
        alice_tab, bob_tab = await _connected(alice), await _connected(bob)
        await _publish(user_group(alice.pk), "approvals.request", {"request": 7})
        frame = await alice_tab.receive_json_from(timeout=2)
        bob_got_nothing = await bob_tab.receive_nothing(timeout=0.3)
        await alice_tab.disconnect()
        await bob_tab.disconnect()
        return frame, bob_got_nothing

    frame, bob_got_nothing = run()
    assert frame["events"] == [{"event": "approvals.request", "payload": {"request": 7}}]
    assert bob_got_nothing


def test_a_session_close_closes_only_that_sessions_tab(make_user):
    user = make_user(ROLE)

    @async_to_sync
    async def run() -> tuple[list[bool], dict]:
        tabs = [await _connected(user), await _connected(user)]
        # Put one of the two tabs in a session group, as a signed-in tab would be.
        hub = hub_for(get_channel_layer())
        consumer = next(iter(hub.members[user_group(user.pk)]))
        await hub.register(consumer, ["session.fanout-test"])
        group = "session.fanout-test"
        await get_channel_layer().group_send(group, close_message(group))
        quiet = [await tab.receive_nothing(timeout=0.5) for tab in tabs]
        closed = await tabs[quiet.index(False)].receive_output(timeout=2)
        for tab in tabs:
            await tab.disconnect()
        return quiet, closed

    quiet, closed = run()
    assert sorted(quiet) == [False, True]
    assert closed == {"type": "websocket.close", "code": 4401}


def test_a_failing_layer_tells_every_local_tab_to_resync(make_user, monkeypatch, caplog):
    user = make_user(ROLE)

    @async_to_sync
    async def run() -> dict:
        tab = await _connected(user)
        await _publish(role_group(ROLE), "activity", {"n": 1})
        frames = [await tab.receive_json_from(timeout=2)]
        layer = get_channel_layer()
        real_receive, failed = layer.receive, []

        async def flaky(channel):
            if not failed:
                failed.append(channel)
                raise ConnectionError("redis went away")
            return await real_receive(channel)

        monkeypatch.setattr(layer, "receive", flaky)
        monkeypatch.setattr("governance.core.live_fanout.RETRY_AFTER", 0.05)
        # The reader waits in the real receive: this event wakes it into the flaky one, so
        # the event may be lost with whatever the failure lost.
        await _publish(role_group(ROLE), "activity", {"n": 2})
        frames.append(await tab.receive_json_from(timeout=3))
        await tab.disconnect()
        return frames

    with caplog.at_level(logging.ERROR, logger="governance.core.live_fanout"):
        frames = run()
    assert frames[0]["events"][0]["payload"] == {"n": 1}
    assert frames[1]["seq"] == 2
    assert frames[1]["resync"] is True
    assert "receive failed" in caplog.text


def test_a_message_without_a_group_is_logged_not_delivered(make_user, caplog):
    user = make_user(ROLE)

    @async_to_sync
    async def run() -> bool:
        tab = await _connected(user)
        message = {"type": "live.event", "event": "activity", "payload": {}}
        await get_channel_layer().group_send(role_group(ROLE), message)
        nothing = await tab.receive_nothing(timeout=0.3)
        await tab.disconnect()
        return nothing

    with caplog.at_level(logging.WARNING, logger="governance.core.live_fanout"):
        assert run()
    assert "without a group" in caplog.text


def test_unregistered_tabs_get_nothing_and_the_reader_stops(make_user):
    user = make_user(ROLE)

    @async_to_sync
    async def run() -> tuple[bool, bool]:
        tab = await _connected(user)
        hub = hub_for(get_channel_layer())
        reader = hub.reader
        await tab.disconnect()
        await asyncio.sleep(0)
        return reader.cancelled() or reader.done(), hub.members == {}

    stopped, empty = run()
    assert stopped
    assert empty
