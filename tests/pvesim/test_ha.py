"""HA resources, rules (PVE 9) and groups (PVE 8), status and CRM requests."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, plain_vm, prox


def test_resources_are_full_configs_and_writes_need_console(sim: Sim) -> None:
    items = prox(sim).cluster.ha.resources.get()
    assert items
    assert {"sid", "type", "state", "max_restart", "max_relocate", "digest"} <= set(items[0])
    with pytest.raises(ResourceException, match="no such resource 'vm:999999'"):
        prox(sim).cluster.ha.resources("vm:999999").get()


def test_rules_only_accept_managed_resources(sim: Sim) -> None:
    api = prox(sim).cluster.ha
    vm = find_guest(sim, lambda g: g.kind == "qemu" and sim.cluster.estate.ha_resource(g) is None)
    node = vm.node
    with pytest.raises(
        ResourceException, match=f"cannot use unmanaged resource\\(s\\) vm:{vm.vmid}"
    ):
        api.rules.post(rule="pin", type="node-affinity", resources=f"vm:{vm.vmid}", nodes=node)
    api.resources.post(sid=str(vm.vmid), state="stopped")
    api.rules.post(
        rule="pin", type="node-affinity", resources=f"vm:{vm.vmid}", nodes=node, strict=1
    )
    rule = api.rules("pin").get()
    assert rule["strict"] == 1
    assert rule["nodes"] == node
    assert {r["rule"] for r in api.rules.get(type="node-affinity")} >= {"pin", "prefer-first"}
    with pytest.raises(ResourceException, match="ha groups have been migrated to rules"):
        api.groups.get()
    api.resources(f"vm:{vm.vmid}").delete()
    assert "pin" not in {r["rule"] for r in api.rules.get()}


def test_pve8_profile_keeps_groups_and_has_no_rules(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(pve="8")
    api = prox(sim).cluster.ha
    nodes = list(sim.cluster.estate.nodes)
    api.groups.post(group="pair", nodes=f"{nodes[0]}:2,{nodes[1]}", restricted=1)
    assert api.groups("pair").get()["restricted"] == 1
    response = sim.api("GET", "/cluster/ha/rules")
    assert response.status_code == 501


def test_ha_start_hands_over_to_the_crm(sim: Sim) -> None:
    vm = plain_vm(sim)
    prox(sim).cluster.ha.resources.post(sid=f"vm:{vm.vmid}", state="stopped")
    upid = prox(sim).nodes(vm.node).qemu(vm.vmid).status.start.post()
    assert upid.split(":")[5] == "hastart"
    assert finish(sim, upid, 1)["exitstatus"] == "OK"
    assert not vm.running
    sim.advance(15)
    assert vm.running
    status = {i["id"]: i for i in prox(sim).cluster.ha.status.current.get()}
    assert status[f"service:vm:{vm.vmid}"]["state"] == "started"
