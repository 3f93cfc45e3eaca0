"""Tag permissions: datacenter ``user-tag-access`` and registered (privileged) tags."""

from __future__ import annotations

import pytest

from pvesim.model import Guest
from pvesim.model.persist import estate_from_dict, estate_to_dict
from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import limited_auth, plain_vm


def _set_tags(sim: Sim, vm: Guest, auth: str | None, **params: str) -> tuple[int, str]:
    response = sim.api("PUT", f"/nodes/{vm.node}/qemu/{vm.vmid}/config", auth=auth, data=params)
    return response.status_code, response.reason


@pytest.fixture
def vm_admin(sim: Sim) -> str:
    """A user with PVEVMAdmin on /vms (VM.Config.Options, no Sys.Modify)."""
    return limited_auth(sim, "tagger@pve", path="/vms", roles="PVEVMAdmin")


def test_defaults_let_config_options_holders_set_any_tag(sim: Sim, vm_admin: str) -> None:
    vm = plain_vm(sim)
    assert _set_tags(sim, vm, vm_admin, tags="brand-new;other") == (200, "OK")
    assert vm.config["tags"] == "brand-new;other"
    auditor = limited_auth(sim, "viewer@pve", path="/vms", roles="PVEAuditor")
    status, reason = _set_tags(sim, vm, auditor, tags="x")
    assert status == 403
    assert "VM.Config.Options" in reason


def test_registered_tags_need_sys_modify_to_add_or_remove(sim: Sim, vm_admin: str) -> None:
    sim.control("POST", "datacenter/tags", registered_tags=["owner-alice", "prod"])
    vm = plain_vm(sim)
    status, reason = _set_tags(sim, vm, vm_admin, tags="owner-alice")
    assert status == 403
    assert reason == "Permission check failed (/, Sys.Modify for modifying tag 'owner-alice')"
    assert _set_tags(sim, vm, None, tags="owner-alice;web") == (200, "OK")  # root token
    assert _set_tags(sim, vm, vm_admin, tags="owner-alice;web;extra") == (200, "OK")
    status, reason = _set_tags(sim, vm, vm_admin, tags="web")
    assert status == 403
    assert "'owner-alice'" in reason
    status, _ = _set_tags(sim, vm, vm_admin, delete="tags")
    assert status == 403
    assert vm.config["tags"] == "extra;owner-alice;web"


def test_list_and_existing_and_none_modes(sim: Sim, vm_admin: str) -> None:
    vm = plain_vm(sim)
    sim.control("POST", "datacenter/tags", user_allow="list", user_allow_list="blue;green")
    assert _set_tags(sim, vm, vm_admin, tags="blue")[0] == 200
    assert _set_tags(sim, vm, vm_admin, tags="blue;red")[0] == 403
    sim.control("POST", "datacenter/tags", user_allow="existing")
    existing = next(
        tag
        for guest in sim.cluster.estate.guests.values()
        if guest.vmid != vm.vmid and guest.config.get("tags")
        for tag in guest.config["tags"].split(";")
    )
    assert _set_tags(sim, vm, vm_admin, tags=f"blue;{existing}")[0] == 200
    assert _set_tags(sim, vm, vm_admin, tags=f"blue;{existing};never-seen")[0] == 403
    sim.control("POST", "datacenter/tags", user_allow="none")
    status, reason = _set_tags(sim, vm, vm_admin, tags=existing)
    assert status == 403
    assert "'blue'" in reason  # removing counts as modifying
    assert _set_tags(sim, vm, None, tags="anything")[0] == 200


def test_create_checks_tags_too(sim: Sim, vm_admin: str) -> None:
    sim.control("POST", "datacenter/tags", registered_tags="gold")
    vmid = int(sim.api("GET", "/cluster/nextid").json()["data"])
    node = sim.first_node()
    response = sim.api(
        "POST",
        f"/nodes/{node}/qemu",
        auth=vm_admin,
        data={"vmid": vmid, "tags": "gold", "memory": "512"},
    )
    assert response.status_code == 403
    assert response.reason.endswith("for modifying tag 'gold')")
    assert vmid not in sim.cluster.estate.guests


def test_policy_survives_save_and_load(sim: Sim) -> None:
    sim.control("POST", "datacenter/tags", user_allow="list", user_allow_list=["a"])
    restored = estate_from_dict(estate_to_dict(sim.cluster.estate))
    assert restored.tag_policy.user_allow == "list"
    assert restored.tag_policy.user_allow_list == ["a"]
    bad = sim.session.post(
        f"{sim.url}/_sim/datacenter/tags",
        json={"user_allow": "sometimes"},
        headers={"X-Pvesim-Key": sim.cluster.control_key},
        verify=str(sim.server.certificate.cert_file),
    )
    assert bad.status_code == 400
