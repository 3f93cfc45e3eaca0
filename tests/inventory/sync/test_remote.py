"""Load remote against simulated clusters over HTTPS: completeness, cost, and what is re-read."""

from datetime import UTC, datetime, timedelta

import pytest

from inventory.proxmox import ProxmoxGateway
from inventory.sync.remote import load_remote, select_config_reads
from inventory.sync.state import LocalState
from tests.inventory.sync.helpers import local_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EMPTY = LocalState(cluster_id=1)


def first_read(sim, endpoint_for):
    gateway = ProxmoxGateway(endpoint_for(sim))
    return gateway, load_remote(gateway, local=EMPTY, now=NOW)


@pytest.mark.parametrize("pve", ["8", "9"])
def test_first_read_is_complete(make_sim, endpoint_for, pve):
    sim = make_sim(pve=pve)
    _, remote = first_read(sim, endpoint_for)
    assert remote.errors == ()
    assert remote.complete
    assert remote.version.startswith(pve)
    estate = sim.cluster.estate
    assert {g.vmid for g in remote.guests} == set(estate.guests)
    assert set(remote.configs) == set(estate.guests)
    assert set(remote.snapshots) == set(estate.guests)
    assert {n.name for n in remote.nodes} == set(estate.nodes)
    # Facts parsed from the real configs the simulator serves.
    some_vm = next(c for c in remote.configs.values() if c.values.get("smbios1"))
    assert some_vm.smbios_uuid
    assert some_vm.nics
    assert some_vm.disks
    assert any(snaps for snaps in remote.snapshots.values())
    # Every storage with interesting content was listed once (shared) or per node (local).
    assert remote.volumes
    for ref in remote.volumes:
        assert ref.storage in estate.storages
        assert (ref.node == "") == bool(estate.storages[ref.storage].shared)
    assert any(v.content == "backup" for vols in remote.volumes.values() for v in vols)
    assert remote.backup_jobs is not None
    assert remote.ha_resources is not None
    assert remote.acl  # the auditor token's own entries at least
    if pve == "9":
        assert (remote.ha_rules is not None, remote.ha_groups) == (True, None)
    else:
        assert (remote.ha_groups is not None, remote.ha_rules) == (True, None)
    assert remote.calls["GET /cluster/resources"] == 1
    assert remote.calls["GET /cluster/tasks"] == 1
    assert remote.calls["GET /nodes/{node}/qemu/{vmid}/config"] + remote.calls.get(
        "GET /nodes/{node}/lxc/{vmid}/config", 0
    ) == len(estate.guests)


def test_steady_state_reads_only_the_rolling_share(sim, endpoint_for):
    gateway, first = first_read(sim, endpoint_for)
    local = local_after(first)
    second = load_remote(gateway, local=local, now=NOW + timedelta(seconds=60))
    assert second.errors == ()
    per_guest = {k: v for k, v in second.calls.items() if "{vmid}" in k}
    # 30 guests, one-hour maximum age, 60 s cycle: ceil(30 / 60) = 1 config, no snapshots.
    assert sum(per_guest.values()) == 1
    assert len(second.configs) == 1
    assert second.snapshots == {}
    storage_reads = second.calls["GET /nodes/{node}/storage/{storage}/content"]
    assert storage_reads == len(first.volumes)


def test_out_of_band_migration_is_re_read(sim, endpoint_for):
    gateway, first = first_read(sim, endpoint_for)
    local = local_after(first)
    guest = next(
        g
        for g in sim.cluster.estate.guests.values()
        if g.kind == "qemu"
        and not g.is_template
        and not g.running
        and not any(k.startswith(("usb", "hostpci", "serial")) for k in g.config)
    )
    target = next(n for n in sim.cluster.estate.nodes if n != guest.node)
    response = sim.api(
        "POST", f"/nodes/{guest.node}/qemu/{guest.vmid}/migrate", data={"target": target}
    )
    assert response.status_code == 200, response.text
    sim.advance(600)
    second = load_remote(gateway, local=local, now=NOW + timedelta(seconds=60))
    assert guest.vmid in second.configs
    moved = next(g for g in second.guests if g.vmid == guest.vmid)
    assert moved.node == target
    assert any(t.type == "qmigrate" and t.id == str(guest.vmid) for t in second.tasks)


def test_a_new_task_alone_triggers_a_re_read(sim, endpoint_for):
    gateway, first = first_read(sim, endpoint_for)
    local = local_after(first, read_at=NOW)
    guest = next(g for g in sim.cluster.estate.guests.values() if g.kind == "qemu")
    response = sim.api(
        "POST", f"/nodes/{guest.node}/qemu/{guest.vmid}/snapshot", data={"snapname": "oob"}
    )
    assert response.status_code == 200, response.text
    sim.advance(600)
    second = load_remote(gateway, local=local, now=NOW + timedelta(seconds=60))
    assert guest.vmid in second.configs
    # The snapshot rewrote the config, so its snapshot list was read too.
    assert "oob" in {s.name for s in second.snapshots[guest.vmid]}


def test_vanished_guest_is_not_re_read_and_not_an_error(sim, endpoint_for):
    guest = next(g for g in sim.cluster.estate.guests.values() if g.kind == "qemu")
    sim.control(
        "POST",
        "errors",
        status=500,
        count=-1,
        prefix=f"/nodes/{guest.node}/qemu/{guest.vmid}/config",
        message=f"Configuration file 'nodes/{guest.node}/qemu-server/{guest.vmid}.conf' "
        "does not exist",
    )
    _, remote = first_read(sim, endpoint_for)
    assert remote.errors == ()
    assert guest.vmid not in remote.configs
    assert len(remote.configs) == len(sim.cluster.estate.guests) - 1


def test_one_failing_guest_makes_the_read_partial_not_failed(sim, endpoint_for):
    guest = next(g for g in sim.cluster.estate.guests.values() if g.kind == "lxc")
    sim.control(
        "POST",
        "errors",
        status=500,
        count=-1,
        message="got timeout",
        prefix=f"/nodes/{guest.node}/lxc/{guest.vmid}/config",
    )
    _, remote = first_read(sim, endpoint_for)
    assert len(remote.errors) == 1
    assert f"guest {guest.vmid}: HTTP 500: got timeout" in remote.errors[0]
    assert remote.resources_complete
    assert guest.vmid not in remote.configs


def test_select_reads_skips_offline_nodes_and_duplicates(sim, endpoint_for):
    _, first = first_read(sim, endpoint_for)
    local = local_after(first, read_at=NOW)
    entries = list(first.guests)
    moving = entries[0]
    other_node = next(n.name for n in first.nodes if n.name != moving.node)
    duplicate = type(moving)(**{**moving.__dict__, "node": other_node})
    online = {n.name for n in first.nodes} - {entries[1].node}
    plan = select_config_reads(
        local=local,
        guests=[*entries, duplicate],
        online_nodes=online,
        touched_vmids=set(),
        now=NOW + timedelta(seconds=60),
    )
    vmids = {g.vmid for g in plan.guests}
    assert moving.vmid not in vmids
    assert entries[1].vmid not in vmids
    assert plan.skipped
    assert f"vmid {moving.vmid} is listed 2 times" in plan.skipped[0]
    assert plan.reasons == {"rolling": 1}


def test_rolling_share_keeps_every_config_under_an_hour(sim, endpoint_for):
    _, first = first_read(sim, endpoint_for)
    local = local_after(first, read_at=NOW)
    # Simulate 60 one-minute cycles: every guest must have been read at least once.
    read_at = {g.vmid: NOW for g in first.guests}
    for minute in range(1, 61):
        now = NOW + timedelta(minutes=minute)
        plan = select_config_reads(
            local=local,
            guests=first.guests,
            online_nodes={n.name for n in first.nodes},
            touched_vmids=set(),
            now=now,
        )
        for entry in plan.guests:
            read_at[entry.vmid] = now
        guests = {
            vmid: type(g)(**{**g.__dict__, "config_read_at": read_at[vmid]})
            for vmid, g in local.guests.items()
        }
        local = LocalState(cluster_id=1, guests=guests)
        assert all(now - t <= timedelta(hours=1) for t in read_at.values())
        assert len(plan.guests) == 1  # the cost stays flat: no catch-up bursts
