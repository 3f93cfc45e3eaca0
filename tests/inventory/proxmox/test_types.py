"""Parsing of Proxmox answers into typed values: quirks accepted, garbage refused."""

from datetime import UTC, datetime

import pytest

from inventory.proxmox import Endpoint, ProxmoxInvalidResponse, normalise_fingerprint
from inventory.proxmox.types import GuestConfig, Resources, Task, Upid, Volume

UPID = "UPID:pve1:000A1B2C:0000F00D:6743A1B0:qmigrate:101:root@pam:"


def test_resources_split_by_type_with_pve_scalar_quirks():
    data = [
        {"type": "node", "node": "pve1", "status": "online", "maxcpu": 8, "maxmem": "1024"},
        {
            "type": "storage",
            "storage": "local",
            "node": "pve1",
            "content": "iso,backup",
            "shared": 0,
            "plugintype": "dir",
            "status": "available",
        },
        {
            "type": "qemu",
            "vmid": "101",
            "node": "pve1",
            "name": "web",
            "status": "running",
            "tags": "b;a;a",
            "template": 0,
        },
        {"type": "lxc", "vmid": 200, "node": "pve1", "status": "stopped", "template": 1},
        {"type": "pool", "pool": "prod"},
        {"type": "sdn", "sdn": "localnetwork", "node": "pve1"},
    ]
    res = Resources.from_api(data)
    assert [n.name for n in res.nodes] == ["pve1"]
    assert res.nodes[0].maxmem == 1024
    assert res.storages[0].content == ("backup", "iso")
    assert res.storages[0].shared is False
    web, ct = res.guests
    assert (web.vmid, web.kind, web.tags, web.template) == (101, "qemu", ("a", "b"), False)
    assert (ct.vmid, ct.kind, ct.template, ct.name) == (200, "lxc", True, "")
    assert res.pools == ("prod",)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "qemu"},
        [{"type": "qemu", "node": "pve1"}],
        [{"type": "qemu", "vmid": "abc", "node": "pve1"}],
        [{"type": "storage", "node": "pve1"}],
        ["not an object"],
    ],
)
def test_resources_refuse_malformed_entries(data):
    with pytest.raises(ProxmoxInvalidResponse):
        Resources.from_api(data)


def test_upid_parses_node_type_id_user_and_start_time():
    upid = Upid.parse(UPID)
    assert (upid.node, upid.type, upid.id, upid.user) == ("pve1", "qmigrate", "101", "root@pam")
    assert upid.starttime == datetime.fromtimestamp(0x6743A1B0, tz=UTC)
    with pytest.raises(ProxmoxInvalidResponse):
        Upid.parse("UPID:broken")


def test_task_status_and_task_list_shapes():
    running = Task.from_api({"upid": UPID, "status": "running", "starttime": 1})
    assert running.running
    assert not running.ok
    done = Task.from_api({"upid": UPID, "status": "stopped", "exitstatus": "OK"})
    assert done.ok
    assert not done.running
    failed = Task.from_api({"upid": UPID, "status": "migration aborted", "endtime": 5})
    assert not failed.ok
    assert not failed.running
    assert failed.endtime == datetime.fromtimestamp(5, tz=UTC)


def test_config_keeps_values_as_strings_and_splits_digest():
    cfg = GuestConfig.from_api({"digest": "abc", "memory": "2048", "cores": 2})
    assert cfg.digest == "abc"
    assert cfg.values == {"memory": "2048", "cores": "2"}
    with pytest.raises(ProxmoxInvalidResponse):
        GuestConfig.from_api(["not", "a", "dict"])


def test_volume_vmid_is_optional():
    iso = Volume.from_api({"volid": "local:iso/x.iso", "content": "iso", "size": 10})
    assert iso.vmid is None
    assert iso.size == 10
    backup = Volume.from_api(
        {
            "volid": "b:backup/vzdump-qemu-101.vma.zst",
            "vmid": "101",
            "ctime": 100,
            "content": "backup",
        }
    )
    assert backup.vmid == 101
    assert backup.ctime == datetime.fromtimestamp(100, tz=UTC)


def test_fingerprint_normalisation():
    fp = ":".join(["AB"] * 32)
    assert normalise_fingerprint(fp) == "ab" * 32
    assert normalise_fingerprint("sha256:" + "ab" * 32) == "ab" * 32
    with pytest.raises(ValueError, match="SHA-256"):
        normalise_fingerprint("ab:cd")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "http://pve:8006"}, "https"),
        ({"url": "https://pve:8006/api2/json"}, "path"),
        ({"token_id": "root@pam"}, "user@realm!tokenname"),
        ({"insecure": True}, "exactly one"),
        ({"fingerprint": ""}, "exactly one"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_endpoint_refuses_bad_settings(kwargs, message):
    base = {
        "url": "https://pve:8006",
        "token_id": "steward@pve!sync",
        "token_secret": "s",
        "fingerprint": "ab" * 32,
    }
    with pytest.raises(ValueError, match=message):
        Endpoint(**{**base, **kwargs})


def test_endpoint_hides_secret_in_repr():
    endpoint = Endpoint(
        url="https://pve", token_id="a@pve!t", token_secret="hunter2", insecure=True
    )
    assert "hunter2" not in repr(endpoint)
    assert endpoint.port == 8006
