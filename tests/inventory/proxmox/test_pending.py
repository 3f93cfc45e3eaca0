"""Reading what is in effect and what waits for a cold start, against pvesim over HTTPS."""

from __future__ import annotations

from inventory.proxmox import ProxmoxGateway


def test_current_config_leaves_out_pending_changes_and_pending_lists_them(sim, endpoint_for):
    guest = next(
        g
        for g in sim.cluster.estate.guests.values()
        if g.kind == "qemu" and g.running and not g.config.get("template") and "ostype" in g.config
    )
    ref = {"node": guest.node, "kind": "qemu", "vmid": guest.vmid}
    gw = ProxmoxGateway(endpoint_for(sim))
    assert gw.guest_pending(**ref) == {}
    before = gw.guest_config(**ref, current=True).values

    path = f"/nodes/{guest.node}/qemu/{guest.vmid}/config"
    response = sim.api("PUT", path, data={"cores": "7", "delete": "ostype", "tags": "web"})
    assert response.status_code == 200, response.text

    shown = gw.guest_config(**ref)  # PVE's default: pending changes shown as applied
    current = gw.guest_config(**ref, current=True)
    assert (shown.values["cores"], "ostype" in shown.values) == ("7", False)
    assert current.values["cores"] == before["cores"] != "7"
    assert current.values["ostype"] == before["ostype"]
    assert current.values["tags"] == "web"  # hot-pluggable: in effect at once
    assert current.digest == shown.digest
    assert gw.guest_pending(**ref) == {"cores": "7", "ostype": None}
