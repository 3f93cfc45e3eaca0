"""Security groups and guest firewall options/rules with digests and positions."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, limited_auth, prox


def test_security_groups_and_rules(sim: Sim) -> None:
    api = prox(sim).cluster.firewall.groups
    assert {"webserver", "ssh-admin", "db"} <= {g["group"] for g in api.get()}
    api.post(group="monitoring", comment="prometheus")
    api("monitoring").post(type="in", action="ACCEPT", proto="tcp", dport="9100")
    api("monitoring").post(type="in", action="ACCEPT", macro="Ping")
    rules = api("monitoring").get()
    assert [r["pos"] for r in rules] == [0, 1]
    assert rules[0]["macro"] == "Ping"  # new rules go on top
    with pytest.raises(ResourceException, match="security group is not empty"):
        api("monitoring").delete()


def test_guest_firewall_options_and_rules(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and not g.is_template)
    fw = prox(sim).nodes(vm.node).qemu(vm.vmid).firewall
    fw.options.put(enable=1, policy_in="DROP")
    options = fw.options.get()
    assert options["enable"] == 1
    assert options["policy_in"] == "DROP"
    digest = fw.rules.get()[0]["digest"] if fw.rules.get() else options["digest"]
    fw.rules.post(type="group", action="webserver")
    with pytest.raises(ResourceException, match="does not exist"):
        fw.rules.post(type="group", action="no-such-group")
    assert fw.rules(0).get()["action"] == "webserver"
    fw.rules(0).put(comment="web access")
    assert fw.rules(0).get()["comment"] == "web access"
    with pytest.raises(ResourceException, match="detected modified configuration"):
        fw.rules(0).delete(digest=digest)
    fw.rules(0).delete()


def test_guest_firewall_write_needs_config_network(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and not g.is_template)
    auth = limited_auth(sim, "carol@pve", path=f"/vms/{vm.vmid}", roles="PVEVMUser")
    base = f"/nodes/{vm.node}/qemu/{vm.vmid}/firewall"
    assert sim.api("GET", base + "/rules", auth=auth).status_code == 200
    response = sim.api("POST", base + "/rules", auth=auth, data={"type": "in", "action": "ACCEPT"})
    assert response.status_code == 403
    assert response.reason == f"Permission check failed (/vms/{vm.vmid}, VM.Config.Network)"
