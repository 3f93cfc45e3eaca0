"""Mirroring owners to Proxmox tags: written after a change, never read back (pvesim)."""

from __future__ import annotations

import pytest

from governance.ownership import mirror
from governance.ownership.mirror import mirrored_tags, ownership_tags_mirror, tag_for
from governance.ownership.models import Ownership
from governance.ownership.services import ownership_assign
from governance.ownership.tasks import mirror_owner_tags
from inventory.models import VirtualMachine
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from inventory.sync.service import cluster_sync

pytestmark = pytest.mark.django_db


def test_tags_keep_the_others_and_replace_stewards_own():
    tags = ["prod", "owner-bob", "Team-old", "web"]
    assert mirrored_tags(tags, owner="alice", team="ops") == [
        "owner-alice",
        "prod",
        "team-ops",
        "web",
    ]
    assert mirrored_tags(tags, owner=None, team=None) == ["prod", "web"]
    assert tag_for("owner-", "Ann.Lee@corp") == "owner-ann.lee-corp"


def _sync(cluster, capture):
    with capture(execute=True):
        run = cluster_sync(cluster_id=cluster.pk)
    assert run.status == "ok", run.error


def _tags_in_proxmox(vm: VirtualMachine) -> set[str]:
    gateway = ProxmoxGateway(cluster_endpoint(vm.cluster))
    config = gateway.guest_config(node=vm.node.name, kind=vm.kind, vmid=vm.vmid)
    return {tag for tag in config.values.get("tags", "").split(";") if tag}


@pytest.fixture
def sim(make_sim):
    # Tag writes need VM.Config.Options: the cluster is registered with root's token.
    return make_sim(identity="root")


@pytest.fixture
def synced(sim, cluster_for, django_capture_on_commit_callbacks):
    cluster = cluster_for(sim)
    _sync(cluster, django_capture_on_commit_callbacks)
    vm = (
        VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=True, template=False)
        .exclude(tags=[])
        .select_related("cluster", "node")
        .order_by("vmid")
        .first()
    )
    assert vm is not None, "the scenario has a tagged guest"
    return cluster, vm


def test_an_ownership_change_queues_a_tag_write_only_when_enabled(
    people, synced, settings, monkeypatch, django_capture_on_commit_callbacks
):
    _, vm = synced
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    queued: list[int] = []
    monkeypatch.setattr(mirror_owner_tags, "delay", queued.append)

    settings.STEWARD_MIRROR_OWNER_TAGS = False
    with django_capture_on_commit_callbacks(execute=True):
        ownership_assign(actor=people.admin, vm=vm, owner=people.alice, reason="r")
    assert queued == []

    settings.STEWARD_MIRROR_OWNER_TAGS = True
    with django_capture_on_commit_callbacks(execute=True):
        ownership_assign(actor=people.admin, vm=vm, team=people.ops, reason="r")
    assert queued == [vm.pk]


def test_the_task_writes_owner_and_team_tags_and_sync_never_reads_them_back(
    people, sim, synced, django_capture_on_commit_callbacks
):
    cluster, vm = synced
    others = set(vm.tags)
    ownership_assign(actor=people.admin, vm=vm, owner=people.alice, team=people.ops, reason="r")

    assert mirror_owner_tags(vm.pk) is True
    assert _tags_in_proxmox(vm) == others | {"owner-alice", "team-ops"}
    assert mirror_owner_tags(vm.pk) is False  # already in shape: no write

    # Someone edits the tags in Proxmox to claim the VM for bob: Steward ignores it.
    tags = ";".join(sorted(others | {"owner-bob", "team-dev"}))
    response = sim.api(
        "PUT", f"/nodes/{vm.node.name}/{vm.kind}/{vm.vmid}/config", data={"tags": tags}
    )
    assert response.status_code == 200, response.text
    sim.advance(600)
    rows = Ownership.objects.count()
    _sync(cluster, django_capture_on_commit_callbacks)

    vm.refresh_from_db()
    assert "owner-bob" in vm.tags  # inventory records the tags as Proxmox has them
    assert Ownership.objects.count() == rows
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == people.alice
    # The next mirror puts Steward's truth back.
    assert mirror_owner_tags(vm.pk) is True
    assert _tags_in_proxmox(vm) == others | {"owner-alice", "team-ops"}


def test_a_stale_digest_reschedules_instead_of_overwriting(people, sim, synced, monkeypatch):
    _, vm = synced
    ownership_assign(actor=people.admin, vm=vm, owner=people.alice, reason="r")
    path = f"/nodes/{vm.node.name}/{vm.kind}/{vm.vmid}/config"

    class RacingGateway(ProxmoxGateway):
        """An admin edits the guest right after Steward read its config."""

        def guest_config(self, **where):
            config = super().guest_config(**where)
            sim.api("PUT", path, data={"description": "edited meanwhile"})
            return config

    monkeypatch.setattr(mirror, "ProxmoxGateway", RacingGateway)
    retries: list[dict] = []

    def retry(**kwargs):
        retries.append(kwargs)
        return RuntimeError("re-scheduled")

    monkeypatch.setattr(mirror_owner_tags, "retry", retry)
    with pytest.raises(RuntimeError, match="re-scheduled"):
        mirror_owner_tags(vm.pk)

    assert retries[0]["countdown"] > 0  # re-queued with a delay; the worker never sleeps
    assert "owner-alice" not in _tags_in_proxmox(vm)
    monkeypatch.setattr(mirror, "ProxmoxGateway", ProxmoxGateway)
    assert ownership_tags_mirror(vm_id=vm.pk) is True  # the retry recomputes and writes
    assert "owner-alice" in _tags_in_proxmox(vm)


def test_rules_cannot_match_the_mirrored_tags(people, estate):
    """A rule on owner-*/team-* tags would read the mirror back as the truth."""
    from django.core.exceptions import ValidationError

    from governance.ownership.rules import ownership_rule_create

    with pytest.raises(ValidationError, match="written by Steward"):
        ownership_rule_create(
            actor=people.admin, name="by tag", team=people.ops, tag_pattern="owner-*"
        )
