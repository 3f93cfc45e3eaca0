"""Cluster-wide config entries: PVE's list strings and flags, and refusal of nameless entries."""

import pytest

from inventory.proxmox import ProxmoxInvalidResponse
from inventory.proxmox.clusterconf import Acl, BackupJob, HAGroup, HAResource, HARule


def test_backup_job_selection_and_lists():
    job = BackupJob.from_api({"id": "j", "vmid": "101,100;100", "enabled": "0"})
    assert (job.selection, job.vmids, job.enabled) == ("vmids", (100, 101), False)
    everything = BackupJob.from_api({"id": "a", "all": 1, "exclude": "9000, 9001"})
    assert (everything.selection, everything.exclude, everything.enabled) == (
        "all",
        (9000, 9001),
        True,
    )
    assert BackupJob.from_api({"id": "p", "pool": "dev"}).selection == "pool"


def test_ha_entries():
    resource = HAResource.from_api({"sid": "ct:105", "max_restart": "3", "failback": 0})
    assert (resource.vmid, resource.max_restart, resource.failback, resource.state) == (
        105,
        3,
        False,
        "started",
    )
    rule = HARule.from_api({"rule": "r", "type": "node-affinity", "nodes": "a:2,b", "disable": 1})
    assert (rule.nodes, rule.disabled, rule.strict) == (("a:2", "b"), True, False)
    assert HAGroup.from_api({"group": "g", "nodes": "n1,n2", "restricted": 1}).restricted


def test_acl_and_refusals():
    acl = Acl.from_api({"path": "/vms/100", "ugid": "a@pve!t", "type": "token", "roleid": "R"})
    assert (acl.ugid_type, acl.propagate) == ("token", True)
    for cls, data in ((Acl, {"path": "/"}), (HARule, {"type": "x"}), (BackupJob, {})):
        with pytest.raises(ProxmoxInvalidResponse):
            cls.from_api(data)
