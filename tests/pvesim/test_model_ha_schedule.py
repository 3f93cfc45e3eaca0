"""Pure model pieces: HA placement (affinity, strictness, anti-affinity), calendar events,
disk allocation naming."""

from __future__ import annotations

import time

import pytest

from pvesim.model import Estate, Guest, ModelError
from pvesim.model.clusterconf import HAGroup, HAResource, HARule
from pvesim.model.disks import allocate_disks, resize_option
from pvesim.model.ha import ha_forbidden_reason, ha_recovery_node
from pvesim.model.infra import Node, Storage
from pvesim.model.schedule import next_run


def estate(major: int = 9) -> Estate:
    est = Estate(name="c", pve_major=major)
    for i in (1, 2, 3):
        est.nodes[f"n{i}"] = Node(f"n{i}", i, f"10.0.0.{i}", 8, 1, 1)
    est.storages["local-lvm"] = Storage("local-lvm", "lvmthin", ["images", "rootdir"])
    est.storages["local"] = Storage("local", "dir", ["iso", "import"])
    for vmid, node in ((100, "n1"), (101, "n2")):
        est.guests[vmid] = Guest(vmid=vmid, kind="qemu", node=node, config={})
        est.ha_resources[f"vm:{vmid}"] = HAResource(f"vm:{vmid}")
    return est


def test_strict_rule_limits_recovery_and_reports_why():
    est = estate()
    est.ha_rules["r"] = HARule("r", "node-affinity", "vm:100", nodes="n1:2,n2:1", strict=1)
    assert ha_recovery_node(est, "vm:100", exclude="n1") == "n2"
    assert ha_forbidden_reason(est, "vm:100", "n3") == "node affinity rule 'r'"
    est.nodes["n2"].online = False
    assert ha_recovery_node(est, "vm:100", exclude="n1") is None


def test_non_strict_rule_falls_back_and_negative_affinity_keeps_apart():
    est = estate()
    est.ha_rules["r"] = HARule("r", "node-affinity", "vm:100", nodes="n1", strict=0)
    est.ha_rules["apart"] = HARule(
        "apart", "resource-affinity", "vm:100,vm:101", affinity="negative"
    )
    assert ha_recovery_node(est, "vm:100", exclude="n1") == "n3"  # n2 runs vm:101
    assert ha_forbidden_reason(est, "vm:100", "n3") is None


def test_pve8_restricted_group():
    est = estate(major=8)
    est.ha_groups["g"] = HAGroup("g", "n1,n2", restricted=1)
    est.ha_resources["vm:100"].group = "g"
    assert ha_forbidden_reason(est, "vm:100", "n3") == "restricted group 'g'"
    assert ha_recovery_node(est, "vm:100", exclude="n1") == "n2"


def test_calendar_events():
    monday_noon = time.mktime(time.strptime("2026-06-01 12:00", "%Y-%m-%d %H:%M")) - time.timezone
    assert time.gmtime(next_run("21:00", monday_noon))[3:5] == (21, 0)
    assert time.gmtime(next_run("sat 02:00", monday_noon)).tm_wday == 5
    assert next_run("*/15", monday_noon) == monday_noon + 15 * 60
    assert time.gmtime(next_run("mon..fri 03:00", monday_noon)).tm_wday == 1
    with pytest.raises(ValueError, match="unable to parse calendar event"):
        next_run("every full moon", monday_noon)


def test_disk_allocation_and_resize():
    est = estate()
    guest = est.guests[100]
    guest.config["scsi0"] = "local-lvm:vm-100-disk-0,size=8G"
    values = {"scsi1": "local-lvm:16,iothread=1"}
    logs = allocate_disks(est, guest, values)
    assert values["scsi1"] == "local-lvm:vm-100-disk-1,iothread=1,size=16G"
    assert logs == ['  Logical volume "vm-100-disk-1" created.']
    with pytest.raises(ModelError, match="does not support vm images"):
        allocate_disks(est, guest, {"scsi2": "local:4"})
    value, old, new = resize_option(values["scsi1"], "scsi1", "+4G")
    assert (old, new) == (16 * 1024**3, 20 * 1024**3)
    assert value.endswith("size=20G")
