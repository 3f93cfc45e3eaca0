"""``policy.changed`` reaches the roles that see every violation and the VM's holders,
after commit, when a run or a violation changes and after every sync."""

from __future__ import annotations

import pytest

from inventory.signals import sync_finished_send
from policy import live

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str, dict]]:
    sent: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(
        live, "publish_to_group", lambda group, event, payload: sent.append((group, event, payload))
    )
    return sent


def test_a_run_moving_tells_officers_and_the_vms_holders_after_commit(
    people, records, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        records.run.state = "failed"
        records.run.save()
        assert published == []  # nothing before the commit
    groups = {group for group, _, _ in published}
    assert groups == {
        "role.admin",
        "role.auditor",
        "role.security_officer",
        f"user.{people.alice.pk}",
    }
    payload = published[0][2]
    assert published[0][1] == "policy.changed"
    assert payload == {
        "cluster": records.run.cluster_id,
        "vm": records.run.vm_id,
        "violation": records.open.pk,
        "remediation": records.run.pk,
        "state": "failed",
    }


def test_a_finished_sync_tells_the_estate_wide_roles(records, published, estate):
    sync_finished_send(cluster_id=estate["cluster"].pk, run_id=1, status="failed")
    assert published == []
    sync_finished_send(cluster_id=estate["cluster"].pk, run_id=2, status="ok")
    assert {group for group, _, _ in published} == {
        "role.admin",
        "role.auditor",
        "role.security_officer",
    }
    assert published[0][2]["cluster"] == estate["cluster"].pk


def test_a_broken_channel_layer_never_fails_the_write(records, monkeypatch, caplog):
    def broken(*args):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(live, "publish_to_group", broken)
    live.policy_changed_publish(vm_id=records.run.vm_id, state="done")
    assert "could not publish policy.changed" in caplog.text
