"""Config rendering, digest, pending/delete semantics and property strings."""

import hashlib

import pytest

from pvesim.model import Guest, ModelError
from pvesim.model.changes import config_update
from pvesim.model.config import normalize_tags, render_config, typed_config
from pvesim.model.propstring import format_propstring, nic_model_and_mac, parse_option, parse_size
from pvesim.model.volumes import image_volname, parse_volid


def make_vm(**extra: str) -> Guest:
    config = {
        "name": "web-01",
        "memory": "2048",
        "cores": "2",
        "scsi0": "local-lvm:vm-100-disk-0,size=32G",
        "ide2": "none,media=cdrom",
        "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
        **extra,
    }
    return Guest(vmid=100, kind="qemu", node="pve1", config=config)


def test_render_matches_pve_file_layout():
    text = render_config(
        {"name": "a", "cores": "2", "description": "line one\nkey: value"},
        pending={"memory": "4096", "delete": "usb0"},
        snapshots={"s2": {"cores": "1", "snaptime": "5"}, "s1": {"cores": "1"}},
    )
    assert text == (
        "#line one\n#key%3A value\ncores: 2\nname: a\n"
        "\n[PENDING]\ndelete: usb0\nmemory: 4096\n"
        "\n[s1]\ncores: 1\n"
        "\n[s2]\ncores: 1\nsnaptime: 5\n"
    )


def test_digest_is_sha1_of_rendered_file_and_tracks_changes():
    vm = make_vm()
    assert vm.digest() == hashlib.sha1(vm.render().encode(), usedforsecurity=False).hexdigest()
    before = vm.digest()
    config_update(vm, values={"cores": "4"}, delete=[], revert=[])
    assert vm.digest() != before


def test_typed_config_keeps_memory_a_string_and_cores_an_int():
    typed = typed_config("qemu", {"memory": "2048", "cores": "2", "onboot": "1", "cpulimit": "1.5"})
    assert typed == {"memory": "2048", "cores": 2, "onboot": 1, "cpulimit": 1.5}
    assert typed_config("lxc", {"memory": "512"}) == {"memory": 512}


def test_running_vm_parks_cold_changes_in_pending():
    vm = make_vm()
    vm.status = "running"
    config_update(vm, values={"cores": "4", "name": "web-02"}, delete=["ide2"], revert=[])
    assert vm.config["name"] == "web-02"  # fast-plug option applies at once
    assert vm.config["cores"] == "2"
    assert vm.pending == {"cores": "4"}  # CD-ROM removal is hot-pluggable
    config_update(vm, values={}, delete=["sockets"], revert=[])
    assert vm.pending == {"cores": "4"}  # absent key: only a warning
    config_update(vm, values={}, delete=["cores"], revert=[])
    assert vm.pending == {"delete": "cores"}
    config_update(vm, values={"cores": "4"}, delete=[], revert=[])
    effective = vm.effective_config()
    assert effective["cores"] == "4"
    items = {item["key"]: item for item in vm.pending_items()}
    assert items["cores"] == {"key": "cores", "value": "2", "pending": "4"}
    vm.apply_pending()
    assert vm.config["cores"] == "4"
    assert vm.pending == {}


def test_revert_drops_pending_value():
    vm = make_vm()
    vm.status = "running"
    config_update(vm, values={"cores": "8"}, delete=[], revert=[])
    config_update(vm, values={}, delete=[], revert=["cores"])
    assert vm.pending == {}
    assert vm.effective_config()["cores"] == "2"


def test_deleting_an_owned_disk_makes_it_unused_unless_forced():
    vm = make_vm()
    config_update(vm, values={}, delete=["scsi0"], revert=[])
    assert "scsi0" not in vm.config
    assert vm.config["unused0"] == "local-lvm:vm-100-disk-0"
    config_update(vm, values={}, delete=["unused0"], revert=[])
    assert "unused0" not in vm.config


def test_delete_and_set_same_key_is_a_parameter_error():
    vm = make_vm()
    with pytest.raises(ModelError) as info:
        config_update(vm, values={"cores": "1"}, delete=["cores"], revert=[])
    assert info.value.status == 400
    assert "delete" in info.value.errors


def test_deleting_absent_key_only_warns():
    vm = make_vm()
    warnings = config_update(vm, values={}, delete=["usb3"], revert=[])
    assert warnings
    assert "usb3" in warnings[0]


def test_tags_are_normalised_like_pve():
    assert normalize_tags("Prod, web;prod  db") == "db;prod;web"
    with pytest.raises(ValueError, match="invalid tag"):
        normalize_tags("bad!tag")


def test_property_strings_round_trip():
    parsed = parse_option("scsi0", "local-lvm:vm-100-disk-0,iothread=1,size=32G")
    assert parsed == {"file": "local-lvm:vm-100-disk-0", "iothread": "1", "size": "32G"}
    assert (
        format_propstring(parsed, default_key="file")
        == "local-lvm:vm-100-disk-0,iothread=1,size=32G"
    )
    assert parse_option("usb0", "host=046d:c52b")["host"] == "046d:c52b"
    assert parse_option("usb1", "spice") == {"host": "spice"}
    assert nic_model_and_mac("virtio=BC:24:11:00:00:01,bridge=vmbr0") == (
        "virtio",
        "BC:24:11:00:00:01",
    )
    assert parse_size("32G") == 32 * 1024**3


def test_volume_names_per_storage_type():
    assert image_volname(storage_type="lvmthin", vmid=100, index=0) == "vm-100-disk-0"
    assert image_volname(storage_type="dir", vmid=100, index=1) == "100/vm-100-disk-1.qcow2"
    linked = image_volname(storage_type="lvmthin", vmid=101, index=0, base="base-900-disk-0")
    assert linked == "base-900-disk-0/vm-101-disk-0"
    info = parse_volid("local-lvm:" + linked)
    assert (info.vmid, info.base_volname, info.content) == (101, "base-900-disk-0", "images")
    backup = parse_volid("pbs:backup/vm/100/2026-01-31T01:00:00Z")
    assert (backup.content, backup.vmid, backup.fmt) == ("backup", 100, "pbs-vm")
    dump = parse_volid("local:backup/vzdump-qemu-100-2026_01_31-01_00_00.vma.zst")
    assert (dump.vmid, dump.fmt) == (100, "vma.zst")
