"""Guest agent OS reads: which guests a cycle asks (pure) and the whole step against pvesim.

Expectations come from the simulator's estate (which guests run, have the agent enabled
in their config and an agent installed), never from what Steward stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.audit.models import AuditEvent
from inventory.models import GuestOsInfo, VirtualMachine
from inventory.sync.osinfo import Candidate, retry_after, select_osinfo_reads
from inventory.sync.service import cluster_sync
from tests.inventory.sync.test_flow import _root

AGENT_CALL = "GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _candidate(vmid: int, **fields) -> Candidate:
    values = {"vm_id": vmid, "vmid": vmid, "node": "pve1", "started_at": NOW - timedelta(days=9)}
    values.update(fields)
    return Candidate(**values)


def test_plan_asks_unknown_restarted_and_day_old_guests_only() -> None:
    fresh = NOW - timedelta(hours=2)
    chosen = select_osinfo_reads(
        [
            _candidate(100, checked_at=fresh, read_at=fresh),  # known, recent: not asked
            _candidate(101),  # never asked
            _candidate(102, checked_at=fresh, read_at=fresh, started_at=NOW - timedelta(hours=1)),
            _candidate(103, checked_at=NOW - timedelta(hours=25), read_at=NOW - timedelta(days=2)),
        ],
        now=NOW,
    )
    assert [c.vmid for c in chosen] == [101, 102, 103]


def test_failed_agents_wait_longer_after_each_failure_up_to_a_day() -> None:
    assert [retry_after(n) for n in (1, 2, 3)] == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=20),
    ]
    assert retry_after(30) == retry_after(0) == timedelta(days=1)
    failed = _candidate(100, checked_at=NOW - timedelta(minutes=7), failures=2)
    assert select_osinfo_reads([failed], now=NOW) == []
    assert select_osinfo_reads([failed], now=NOW + timedelta(minutes=4)) == [failed]


def test_plan_caps_a_cycle_never_asked_guests_first() -> None:
    old = NOW - timedelta(days=3)
    guests = [_candidate(200 + i, checked_at=old, read_at=old) for i in range(5)]
    guests.append(_candidate(300))
    assert [c.vmid for c in select_osinfo_reads(guests, now=NOW, limit=2)] == [300, 200]


# ---- against pvesim over HTTPS ------------------------------------------------------------


def _sync(cluster):
    run = cluster_sync(cluster_id=cluster.pk)
    assert (run.status, run.error) == ("ok", "")
    return run


def _agent_guests(sim):
    """Running, non-template VMs whose config enables the agent, split by installed agent;
    those HA does not manage first (a test stops and starts them directly)."""
    estate = sim.cluster.estate
    guests = [
        g
        for g in estate.guests.values()
        if g.kind == "qemu"
        and g.status == "running"
        and g.config.get("agent", "0").split(",")[0] in ("1", "enabled=1")
        and g.config.get("template") != "1"
    ]
    guests.sort(key=lambda g: (estate.ha_resource(g) is not None, g.vmid))
    return [g for g in guests if g.agent_installed], [g for g in guests if not g.agent_installed]


@pytest.mark.django_db
def test_sync_reads_running_agents_once_and_keeps_failures_quiet(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    answering, silent = _agent_guests(sim)
    assert answering, "the scenario has running VMs with an agent"
    run = _sync(cluster)

    assert run.stats["api_calls"][AGENT_CALL] == len(answering) + len(silent)
    rows = GuestOsInfo.objects.filter(vm__cluster=cluster)
    known = {r.vm.vmid: r for r in rows.select_related("vm") if r.read_at}
    assert set(known) == {g.vmid for g in answering}
    for guest in answering:
        expected = guest.os_release.get("id") or "mswindows"  # Windows answers by ostype
        assert known[guest.vmid].os_id == expected
        assert known[guest.vmid].pretty_name
    failed = rows.filter(read_at__isnull=True)
    assert {r.vm.vmid for r in failed.select_related("vm")} == {g.vmid for g in silent}
    assert all(r.failures == 1 and "not running" in r.error for r in failed)
    # Guests without the agent in their config are never asked.
    no_agent = VirtualMachine.objects.filter(cluster=cluster, agent_enabled=False)
    assert not GuestOsInfo.objects.filter(vm__in=no_agent).exists()

    again = _sync(cluster)
    assert AGENT_CALL not in again.stats["api_calls"]
    assert again.stats["osinfo_due"] == 0


@pytest.mark.django_db
def test_restart_and_day_old_reads_are_asked_again(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    _sync(cluster)
    (guest, other, *_), _ = _agent_guests(sim)
    base = f"/nodes/{guest.node}/qemu/{guest.vmid}"
    _root(sim, "POST", f"{base}/status/stop")
    sim.advance(60)
    _sync(cluster)
    _root(sim, "POST", f"{base}/status/start")
    sim.advance(60)
    restarted = _sync(cluster)
    assert restarted.stats["api_calls"][AGENT_CALL] == 1
    assert restarted.stats["osinfo_read"] == 1

    GuestOsInfo.objects.filter(vm__cluster=cluster, vm__vmid=other.vmid).update(
        checked_at=datetime.now(UTC) - timedelta(days=1, minutes=5)
    )
    aged = _sync(cluster)
    assert aged.stats["api_calls"][AGENT_CALL] == 1


def _synced_day_old(sim, cluster_for):
    """A synced cluster, an answering guest and its OS row, read two days ago."""
    cluster = cluster_for(sim)
    _sync(cluster)
    (guest, *_), _ = _agent_guests(sim)
    row = GuestOsInfo.objects.get(vm__cluster=cluster, vm__vmid=guest.vmid)
    row.checked_at -= timedelta(days=2)
    row.save(update_fields=["checked_at"])
    return cluster, guest, row


@pytest.mark.django_db
def test_agent_that_stops_answering_keeps_the_last_os(sim, cluster_for) -> None:
    cluster, guest, row = _synced_day_old(sim, cluster_for)
    before = (row.os_id, row.version_id, row.pretty_name, row.read_at)
    guest.agent_installed = False

    run = _sync(cluster)  # "QEMU guest agent is not running" is no sync problem
    assert run.stats["osinfo_failed"] == 1
    row.refresh_from_db()
    assert (row.os_id, row.version_id, row.pretty_name, row.read_at) == before
    assert row.failures == 1
    assert "not running" in row.error


@pytest.mark.django_db
def test_a_changed_os_is_audited(sim, cluster_for) -> None:
    cluster, _, row = _synced_day_old(sim, cluster_for)
    GuestOsInfo.objects.filter(pk=row.pk).update(
        pretty_name="Debian GNU/Linux 11 (bullseye)", version_id="11"
    )
    _sync(cluster)
    event = AuditEvent.objects.get(action="inventory.guest_os_changed")
    assert event.before["version_id"] == "11"
    assert event.after["os"] == GuestOsInfo.objects.get(pk=row.pk).pretty_name != event.before["os"]
