"""Storage config, per-node status, content (ISOs, backups, images, linked clones,
import sources), deletion and permission filtering."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import finish, limited_auth, prox


def test_storage_index_is_full_config_with_digest(sim: Sim) -> None:
    items = {s["storage"]: s for s in prox(sim).storage.get()}
    assert items["local-lvm"]["type"] == "lvmthin"
    assert items["local-lvm"]["thinpool"] == "data"
    assert items["usb-backup"]["nodes"] == sim.first_node()
    assert len({s["digest"] for s in items.values()}) == 1
    assert items["pbs"]["shared"] == 1


def test_usb_backup_storage_exists_on_one_node_only(sim: Sim) -> None:
    nodes = list(sim.cluster.estate.nodes)
    first = {s["storage"] for s in prox(sim).nodes(nodes[0]).storage.get()}
    second = {s["storage"] for s in prox(sim).nodes(nodes[1]).storage.get()}
    assert "usb-backup" in first
    assert "usb-backup" not in second
    with pytest.raises(ResourceException, match="not available on node"):
        prox(sim).nodes(nodes[1]).storage("usb-backup").content.get()
    status = prox(sim).nodes(nodes[0]).storage("usb-backup").status.get()
    assert status["active"] == 1
    assert status["total"] > status["used"] > 0


def test_content_lists_each_kind_of_volume(sim: Sim) -> None:
    node = sim.first_node()
    local = prox(sim).nodes(node).storage("local").content.get()
    kinds = {item["content"] for item in local}
    assert {"iso", "vztmpl", "import"} <= kinds
    isos = prox(sim).nodes(node).storage("local").content.get(content="iso")
    assert all(item["volid"].startswith("local:iso/") for item in isos)
    backups = prox(sim).nodes(node).storage("pbs").content.get()
    assert all(item["volid"].startswith("pbs:backup/") for item in backups)
    assert {item["subtype"] for item in backups} <= {"qemu", "lxc"}
    images = prox(sim).nodes(node).storage("ceph-rbd").content.get()
    linked = [i for i in images if "parent" in i]
    assert linked
    assert linked[0]["volid"].split(":")[1].startswith(linked[0]["parent"] + "/")


def test_deleting_a_backup_runs_a_task(sim: Sim) -> None:
    node = sim.first_node()
    api = prox(sim).nodes(node).storage("pbs").content
    volid = api.get()[0]["volid"]
    # proxmoxer does not escape the volid; clients must (its slashes would split the path).
    upid = api(quote(volid, safe="")).delete()
    finish(sim, upid)
    assert volid not in {item["volid"] for item in api.get()}


def test_storage_lists_filter_by_privilege(sim: Sim) -> None:
    auth = limited_auth(sim, "alice@pve", path="/storage/local", roles="PVEDatastoreUser")
    response = sim.api("GET", "/storage", auth=auth)
    assert [s["storage"] for s in response.json()["data"]] == ["local"]
    node = sim.first_node()
    response = sim.api("GET", f"/nodes/{node}/storage/pbs/content", auth=auth)
    assert response.status_code == 403
    assert (
        response.reason
        == "Permission check failed (/storage/pbs, Datastore.Audit|Datastore.AllocateSpace)"
    )


def test_storage_create_update_delete(sim: Sim) -> None:
    api = prox(sim).storage
    api.post(storage="scratch", type="dir", path="/srv/scratch", content="images,iso")
    with pytest.raises(ResourceException, match="already defined"):
        api.post(storage="scratch", type="dir", path="/srv/scratch")
    digest = api("scratch").get()["digest"]
    api("scratch").put(content="backup", digest=digest)
    with pytest.raises(ResourceException, match="detected modified configuration"):
        api("scratch").put(content="iso", digest=digest)
    assert api("scratch").get()["content"] == "backup"
    api("scratch").delete()
    assert "scratch" not in {s["storage"] for s in api.get()}
