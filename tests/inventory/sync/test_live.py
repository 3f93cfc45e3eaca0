"""A finished sync tells the inventory pages of those who may see them, after commit."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from governance.accounts.roles import Role
from governance.core.consumers import LiveConsumer
from inventory.sync.live import watcher_groups
from inventory.sync.service import cluster_sync
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def memory_channel_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@async_to_sync
async def _received(watcher, outsider, work) -> tuple[list[dict], bool]:
    """Connect both users, run ``work`` (sync), return what each received."""
    # Not paced: each sync's event arrives in a frame of its own, at once.
    unpaced = type("UnpacedConsumer", (LiveConsumer,), {"flush_interval": 0})
    mine, theirs = (WebsocketCommunicator(unpaced.as_asgi(), "/ws/live/") for _ in range(2))
    mine.scope["user"], theirs.scope["user"] = watcher, outsider
    assert (await mine.connect(timeout=5))[0]
    assert (await theirs.connect(timeout=5))[0]
    await sync_to_async(work)()
    received = [await mine.receive_json_from(timeout=5)]
    while not await mine.receive_nothing(timeout=0.2):
        received.append(await mine.receive_json_from(timeout=1))
    outsider_got_nothing = await theirs.receive_nothing(timeout=0.2)
    await mine.disconnect()
    await theirs.disconnect()
    return [event for frame in received for event in frame["events"]], outsider_got_nothing


def test_watchers_are_the_roles_that_see_the_inventory() -> None:
    assert watcher_groups() == ["role.admin", "role.auditor", "role.security_officer"]


@pytest.mark.usefixtures("memory_channel_layer")
def test_a_finished_sync_reaches_inventory_viewers_only(
    sim, cluster_for, django_capture_on_commit_callbacks
) -> None:
    cluster = cluster_for(sim)
    auditor, end_user = UserFactory(roles=[Role.AUDITOR]), UserFactory(roles=[Role.END_USER])
    runs = []

    def sync_twice() -> None:
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                runs.append(cluster_sync(cluster_id=cluster.pk))

    everything, end_user_got_nothing = _received(auditor, end_user, sync_twice)
    assert end_user_got_nothing
    # Other apps (policy) may announce their own follow-up work on the same socket.
    received = [m for m in everything if m["event"].startswith("inventory.")]
    assert [m["event"] for m in received] == ["inventory.synced", "inventory.synced"]
    first, second = (m["payload"] for m in received)
    assert first == {
        "cluster": cluster.name,
        "cluster_id": cluster.pk,
        "run": runs[0].pk,
        "status": "ok",
        "changed": True,
    }
    # A steady-state cycle wrote nothing: pages that only care about changes stay put.
    assert (second["run"], second["changed"]) == (runs[1].pk, False)


def test_nothing_is_published_before_commit(sim, cluster_for, monkeypatch) -> None:
    published = []
    monkeypatch.setattr(
        "inventory.sync.live.publish_to_group", lambda *args: published.append(args)
    )
    cluster = cluster_for(sim)
    cluster_sync(cluster_id=cluster.pk)
    assert published == []  # the test transaction never commits


def test_a_channel_layer_that_is_down_does_not_fail_the_sync(
    sim, cluster_for, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    def broken(*args):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("inventory.sync.live.publish_to_group", broken)
    cluster = cluster_for(sim)
    with django_capture_on_commit_callbacks(execute=True):
        run = cluster_sync(cluster_id=cluster.pk)
    assert run.status == "ok"
