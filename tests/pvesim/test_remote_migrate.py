"""``remote_migrate`` between two clusters served by one process (PVE's cross-cluster
migration): a task on each side, the guest mapped on arrival, PVE's connection errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from pvesim.access import AclEntry
from pvesim.model import Guest
from pvesim.testing import RunningSim, SimFarm
from pvesim.tls import Certificate


@pytest.fixture
def farm(certificate: Certificate) -> Iterator[SimFarm]:
    farm = SimFarm(certificate=certificate)
    yield farm
    farm.stop()


@pytest.fixture
def pair(farm: SimFarm) -> tuple[RunningSim, RunningSim]:
    """Two clusters of one process on one clock (source, target)."""
    return farm.start(identity="root", seed=1), farm.start(identity="root", seed=2)


def _api(sim: RunningSim) -> ProxmoxAPI:
    user, _, token = sim.token_id.partition("!")
    return ProxmoxAPI(
        "127.0.0.1",
        port=sim.server.port,
        user=user,
        token_name=token,
        token_value=sim.token_secret,
        verify_ssl=str(sim.cert_file),
        timeout=10,
    )


def _endpoint(target: RunningSim, *, secret: str | None = None, **extra: str) -> str:
    token = f"PVEAPIToken={target.root_token_id}={secret or target.root_token_secret}"
    parts = [f"apitoken={token}", "host=127.0.0.1", f"port={target.server.port}"]
    parts += [f"{key}={value}" for key, value in extra.items()]
    return ",".join(parts)


def _movable(sim: RunningSim, *, running: bool, kind: str = "qemu") -> Guest:
    for guest in sim.cluster.estate.guests.values():
        if (
            guest.kind == kind
            and guest.running is running
            and not guest.is_template
            and not guest.lock
            and sim.cluster.estate.ha_resource(guest) is None
            and not guest.snapshots
            and not any(k.startswith(("usb", "hostpci")) for k in guest.config)
        ):
            return guest
    raise AssertionError(f"no movable {kind} guest")


def _log(sim: RunningSim, upid: str) -> list[str]:
    node = upid.split(":")[1]
    lines = _api(sim).nodes(node).tasks(upid).log.get(limit=0)
    return [line["t"] for line in lines]


def _status(sim: RunningSim, upid: str) -> dict:
    return _api(sim).nodes(upid.split(":")[1]).tasks(upid).status.get()


def _migrate(source: RunningSim, guest: Guest, **params: object) -> str:
    """POST remote_migrate through proxmoxer; returns the source task's UPID."""
    node = _api(source).nodes(guest.node)
    resource = node.qemu(guest.vmid) if guest.kind == "qemu" else node.lxc(guest.vmid)
    return resource.remote_migrate.post(**{key.replace("_", "-"): v for key, v in params.items()})


def _free_vmid(sim: RunningSim) -> int:
    return int(_api(sim).cluster.nextid.get())


def _offline_to(source: RunningSim, target: RunningSim, guest: Guest, target_vmid: int) -> str:
    """An offline migration onto the target's local-lvm and vmbr0."""
    return _migrate(
        source,
        guest,
        target_endpoint=_endpoint(target),
        target_vmid=target_vmid,
        target_storage="local-lvm",
        target_bridge="vmbr0",
    )


def test_offline_remote_migration_moves_the_guest_with_a_task_on_each_side(
    pair: tuple[RunningSim, RunningSim],
) -> None:
    source, target = pair
    guest = _movable(source, running=False)
    new_vmid = _free_vmid(target)
    upid = _migrate(
        source,
        guest,
        target_endpoint=_endpoint(target, fingerprint=target.server.certificate.fingerprint),
        target_vmid=new_vmid,
        target_storage="local-lvm",
        target_bridge="vmbr1",
    )
    assert upid.split(":")[5] == "qmigrate"
    source.advance(1)
    arrived = _api(target).cluster.resources.get(type="vm")
    entry = next(i for i in arrived if i["vmid"] == new_vmid)
    assert entry["lock"] == "migrate"
    source.advance(3600)
    assert _status(source, upid)["exitstatus"] == "OK"
    log = _log(source, upid)
    tunnel_upid = log[0].split("'")[1]
    assert tunnel_upid.split(":")[5:8] == ["qmtunnel", str(new_vmid), target.root_token_id]
    assert any(line.startswith("starting migration of VM") for line in log)
    assert any(
        "on the target" in line and f"local-lvm:vm-{new_vmid}-disk-0" in line for line in log
    )
    assert log[-1] == "TASK OK"
    assert _status(target, tunnel_upid)["exitstatus"] == "OK"
    config = _api(target).nodes(entry["node"]).qemu(new_vmid).config.get()
    assert "lock" not in config
    assert config["scsi0"].startswith(f"local-lvm:vm-{new_vmid}-disk-0")
    assert "bridge=vmbr1" in config["net0"]
    assert config["name"] == guest.name
    kept = _api(source).nodes(guest.node).qemu(guest.vmid).status.current.get()
    assert kept["status"] == "stopped"
    # PVE unlocks only the target's copy; the kept original stays locked.
    assert kept["lock"] == "migrate"


def test_online_migration_with_delete_leaves_nothing_behind(
    pair: tuple[RunningSim, RunningSim],
) -> None:
    source, target = pair
    guest = _movable(source, running=True)
    new_vmid = _free_vmid(target)
    upid = _migrate(
        source,
        guest,
        target_endpoint=_endpoint(target),
        target_vmid=new_vmid,
        target_storage="ceph-rbd",
        target_bridge="vmbr0",
        online=1,
        delete=1,
    )
    source.advance(3600)
    assert _status(source, upid)["exitstatus"] == "OK"
    assert guest.vmid not in source.cluster.estate.guests
    moved = next(i for i in _api(target).cluster.resources.get(type="vm") if i["vmid"] == new_vmid)
    assert moved["status"] == "running"


def test_running_guest_needs_online_and_ha_guests_are_refused(
    pair: tuple[RunningSim, RunningSim],
) -> None:
    source, target = pair
    guest = _movable(source, running=True)
    params = {
        "target-endpoint": _endpoint(target),
        "target-storage": "local-lvm",
        "target-bridge": "vmbr0",
    }
    with pytest.raises(ResourceException, match="can't migrate running VM without --online"):
        _api(source).nodes(guest.node).qemu(guest.vmid).remote_migrate.post(**params)
    sid = next(iter(source.cluster.estate.ha_resources))
    ha_guest = source.cluster.estate.guests[int(sid.split(":")[1])]
    response = source.api(
        "POST",
        f"/nodes/{ha_guest.node}/{ha_guest.kind}/{ha_guest.vmid}/remote_migrate",
        data={**params, "online": 1},
    )
    assert response.status_code == 400
    refusal = {
        "qemu": "cannot remote-migrate VM that is configured for HA",
        "lxc": "cannot migrate HA-managed CT to remote cluster",
    }
    assert response.json()["errors"]["vmid"] == refusal[ha_guest.kind]
    response = source.api(
        "POST",
        f"/nodes/{guest.node}/qemu/{guest.vmid}/remote_migrate",
        data={**params, "online": 1, "target-storage": "1"},
    )
    assert response.status_code == 500
    assert response.reason == "remote migration requires explicit storage mapping!"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"port": "1"}, "Can't connect to 127.0.0.1:1 (Connection refused)"),
        ({"fingerprint": "AA:" * 31 + "AA"}, "(certificate verify failed)"),
        ({"secret": "wrong"}, "401 Authentication failed!"),
    ],
)
def test_unreachable_or_refusing_endpoints_fail_before_any_task(
    pair: tuple[RunningSim, RunningSim], change: dict[str, str], message: str
) -> None:
    source, target = pair
    guest = _movable(source, running=False)
    endpoint = _endpoint(target, secret=change.get("secret"))
    if "port" in change:
        endpoint = endpoint.replace(f"port={target.server.port}", f"port={change['port']}")
    if "fingerprint" in change:
        endpoint += f",fingerprint={change['fingerprint']}"
    response = source.api(
        "POST",
        f"/nodes/{guest.node}/qemu/{guest.vmid}/remote_migrate",
        data={"target-endpoint": endpoint, "target-storage": "local-lvm", "target-bridge": "vmbr0"},
    )
    assert response.status_code == 500
    assert message in response.reason
    assert "lock" not in guest.config
    assert not [t for t in source.cluster.tasks.tasks.values() if t.type == "qmigrate"]


def test_taken_target_vmid_aborts_the_task_and_unlocks_the_source(
    pair: tuple[RunningSim, RunningSim],
) -> None:
    source, target = pair
    guest = _movable(source, running=False)
    taken = next(iter(target.cluster.estate.guests))
    before = dict(target.cluster.estate.guests[taken].config)
    upid = _offline_to(source, target, guest, taken)
    source.advance(60)
    assert _status(source, upid)["exitstatus"] == "migration aborted"
    log = _log(source, upid)
    assert "ERROR: migration aborted (duration 00:00:00): 400 Parameter verification failed." in log
    node = target.cluster.estate.guests[taken].node
    taken_noun = target.cluster.estate.guests[taken].noun
    assert (
        f"ERROR: vmid: unable to create empty VM config - {taken_noun} {taken} already exists "
        f"on node '{node}'"
    ) in log
    assert target.cluster.estate.guests[taken].config == before
    assert "lock" not in guest.config


def test_target_token_needs_sys_incoming(pair: tuple[RunningSim, RunningSim]) -> None:
    source, target = pair
    access = target.cluster.access
    access.user_add("mover@pve")
    token = access.token_add("mover@pve", "t", privsep=False)
    access.acl_set(AclEntry("/vms", "user", "mover@pve", "PVEVMAdmin", True))
    guest = _movable(source, running=False)
    endpoint = (
        f"apitoken=PVEAPIToken={token.full}={token.secret},host=localhost,port={target.server.port}"
    )
    upid = _migrate(
        source, guest, target_endpoint=endpoint, target_storage="local-lvm", target_bridge="vmbr0"
    )
    source.advance(60)
    assert _status(source, upid)["exitstatus"] == "migration aborted"
    assert any("(/, Sys.Incoming)" in line for line in _log(source, upid))
    assert guest.vmid in source.cluster.estate.guests


def test_container_moves_with_vzmtunnel(pair: tuple[RunningSim, RunningSim]) -> None:
    source, target = pair
    guest = _movable(source, running=False, kind="lxc")
    new_vmid = _free_vmid(target)
    upid = _offline_to(source, target, guest, new_vmid)
    assert upid.split(":")[5] == "vzmigrate"
    source.advance(3600)
    assert _status(source, upid)["exitstatus"] == "OK"
    assert _log(source, upid)[0].split("'")[1].split(":")[5] == "vzmtunnel"
    moved = target.cluster.estate.guests[new_vmid]
    assert moved.kind == "lxc"
    assert moved.config["rootfs"].startswith(f"local-lvm:vm-{new_vmid}-disk-0")


@pytest.mark.parametrize(
    ("kind", "warning", "problem"),
    [
        (
            "qemu",
            "can't migrate local disk '{}': remote migration with snapshots not supported yet",
            "Problem found while scanning volumes - can't migrate VM - check log",
        ),
        (
            "lxc",
            "can't migrate local volume '{}': remote migration with snapshots not supported yet",
            "can't migrate CT - check log",
        ),
    ],
)
def test_a_guest_with_snapshots_is_refused_by_the_worker_and_stays_unlocked(
    pair: tuple[RunningSim, RunningSim], kind: str, warning: str, problem: str
) -> None:
    source, target = pair
    guest = _movable(source, running=False, kind=kind)
    disk_key = "scsi0" if kind == "qemu" else "rootfs"
    volid = guest.config[disk_key].split(",", 1)[0]
    guest.snapshots["before-move"] = {**guest.config, "snaptime": "1700000000"}
    new_vmid = _free_vmid(target)
    upid = _offline_to(source, target, guest, new_vmid)
    source.advance(60)

    assert _status(source, upid)["exitstatus"] == "migration aborted"
    log = _log(source, upid)
    assert warning.format(volid) in log
    assert f"ERROR: migration aborted (duration 00:00:00): {problem}" in log
    tunnel_upid = log[0].split("'")[1]
    assert _status(target, tunnel_upid)["exitstatus"] == "migration aborted"
    assert new_vmid not in target.cluster.estate.guests
    assert "lock" not in guest.config


def test_a_running_container_needs_restart_mode(pair: tuple[RunningSim, RunningSim]) -> None:
    source, target = pair
    guest = _movable(source, running=True, kind="lxc")
    upid = _migrate(
        source,
        guest,
        target_endpoint=_endpoint(target),
        target_vmid=_free_vmid(target),
        target_storage="local-lvm",
        target_bridge="vmbr0",
        online=1,
    )
    source.advance(60)
    assert _status(source, upid)["exitstatus"] == "migration aborted"
    assert (
        "ERROR: migration aborted (duration 00:00:00): "
        "lxc live migration is currently not implemented"
    ) in _log(source, upid)
    assert guest.running
    assert "lock" not in guest.config
