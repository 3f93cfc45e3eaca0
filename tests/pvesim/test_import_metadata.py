"""OVA appliances on an import storage: ``import-metadata`` reads the appliance (create
arguments, each disk as a volid inside the archive, NICs, warnings); a qemu create imports
those inner disks, and refuses the bare archive as ``import-from``."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from pvesim.model.infra import Volume
from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import finish, prox

OVA = "local:import/legacy-erp.ova"


def _metadata(sim: Sim, volid: str) -> dict:
    """import-metadata of ``volid``, asked for as PVE wants: by volume name."""
    node = sim.first_node()
    volname = volid.removeprefix("local:")
    return prox(sim).nodes(node).storage("local")("import-metadata").get(volume=volname)


def test_import_metadata_reads_the_appliance(sim: Sim) -> None:
    meta = _metadata(sim, OVA)

    assert meta["type"] == "vm"
    assert meta["source"] == "import/legacy-erp.ova"
    assert meta["create-args"] == {
        "name": "legacy-erp",
        "cores": 4,
        "memory": 6144,
        "ostype": "l26",
        "boot": "order=scsi0;scsi1",
    }
    assert meta["disks"]["scsi0"] == {
        "volid": f"{OVA}/legacy-erp-disk1.vmdk",
        "size": 32 * 1024**3,
    }
    assert meta["disks"]["scsi1"]["volid"] == f"{OVA}/legacy-erp-disk2.vmdk"
    assert meta["net"] == {"net0": {"model": "vmxnet3"}}
    assert {"type": "ova-needs-extracting"} in meta["warnings"]


def test_the_volume_is_a_volume_name_because_pve_prefixes_the_storage(sim: Sim) -> None:
    node = sim.first_node()
    endpoint = prox(sim).nodes(node).storage("local")("import-metadata")
    with pytest.raises(
        ResourceException,
        match=r"unable to parse directory volume name 'local:import/legacy-erp\.ova'",
    ):
        endpoint.get(volume=OVA)


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (
            "local:import/nothing-here.ova",
            "command 'tar -xO --wildcards --occurrence=1 -f "
            "/var/lib/vz/import/nothing-here.ova '*.ovf'' failed: exit code 2",
        ),
        ("local:import/router-appliance.qcow2", "invalid format"),
        ("local:iso/debian-12.8.0-amd64-netinst.iso", "invalid content type 'iso'"),
    ],
)
def test_import_metadata_refuses_what_is_no_appliance(sim: Sim, volume: str, message: str) -> None:
    with pytest.raises(ResourceException) as refused:
        _metadata(sim, volume)
    assert message in str(refused.value)


def test_an_archive_without_a_descriptor_is_refused(sim: Sim) -> None:
    estate = sim.cluster.estate
    volid = "local:import/broken.ova"
    estate.add_volume(estate.storages["local"], sim.first_node(), Volume(volid, "import", 1, "ova"))

    with pytest.raises(ResourceException) as refused:
        _metadata(sim, volid)
    assert "-f /var/lib/vz/import/broken.ova '*.ovf'' failed: exit code 2" in str(refused.value)


def _create(sim: Sim, vmid: int, **disks: str) -> str:
    node = sim.first_node()
    return prox(sim).nodes(node).qemu.post(vmid=vmid, name="erp", cores=4, memory=6144, **disks)


def test_a_create_imports_the_disks_inside_the_archive(sim: Sim) -> None:
    upid = _create(
        sim,
        4100,
        scsi0=f"local-lvm:0,import-from={OVA}/legacy-erp-disk1.vmdk",
        scsi1=f"local-lvm:0,import-from={OVA}/legacy-erp-disk2.vmdk",
    )
    finish(sim, upid)

    config = sim.cluster.estate.guests[4100].config
    assert config["scsi0"].startswith("local-lvm:vm-4100-disk-0")
    assert "size=32G" in config["scsi0"]
    assert "size=8G" in config["scsi1"]
    log = prox(sim).nodes(sim.first_node()).tasks(upid).log.get(limit=50)
    assert any(f"extracting {OVA}/legacy-erp-disk1.vmdk" in line["t"] for line in log)


def test_a_create_refuses_the_bare_archive_and_unknown_inner_disks(sim: Sim) -> None:
    with pytest.raises(ResourceException, match=r"not a QEMU image format 'ova'") as refused:
        _create(sim, 4101, scsi0=f"local-lvm:0,import-from={OVA}")
    assert refused.value.status_code == 500
    with pytest.raises(ResourceException, match="is not in"):
        _create(sim, 4102, scsi0=f"local-lvm:0,import-from={OVA}/other.vmdk")
    assert 4101 not in sim.cluster.estate.guests
    assert 4102 not in sim.cluster.estate.guests


def _add_appliance(sim: Sim, name: str, fmt: str, descriptor: dict) -> str:
    estate = sim.cluster.estate
    volid = f"local:import/{name}"
    volume = Volume(volid, "import", 1024**3, fmt, ovf=descriptor)
    estate.add_volume(estate.storages["local"], sim.first_node(), volume)
    return volid


def test_an_efi_appliance_marks_its_efi_disk_and_unknown_nic_models_become_e1000(
    sim: Sim,
) -> None:
    descriptor = {
        "name": "uefi-box",
        "bios": "ovmf",
        "disks": [{"bus": "sata0", "file": "uefi-box-disk1.vmdk", "size": 1024**3}],
        "nets": [{"key": "net0", "model": "PCNet32"}, {"key": "net1", "model": "E1000E"}],
    }
    volid = _add_appliance(sim, "uefi-box.ova", "ova", descriptor)

    meta = _metadata(sim, volid)

    assert meta["disks"]["efidisk0"] == 1
    assert meta["create-args"]["boot"] == "order=sata0"
    assert {"type": "efi-state-lost", "key": "bios", "value": "ovmf"} in meta["warnings"]
    assert meta["net"] == {"net0": {"model": "e1000"}, "net1": {"model": "e1000e"}}


def test_an_ovf_names_its_disks_beside_it_and_is_no_import_source_itself(sim: Sim) -> None:
    descriptor = {
        "name": "plain-ovf",
        "disks": [{"bus": "scsi0", "file": "plain-ovf-disk1.vmdk", "size": 1024**3}],
    }
    volid = _add_appliance(sim, "plain-ovf.ovf", "ovf", descriptor)

    meta = _metadata(sim, volid)

    assert meta["disks"]["scsi0"]["volid"] == "local:import/plain-ovf-disk1.vmdk"
    assert meta["warnings"] == []
    with pytest.raises(ResourceException, match=r"not a QEMU image format 'ovf'"):
        _create(sim, 4103, scsi0=f"local-lvm:0,import-from={volid}")
    assert 4103 not in sim.cluster.estate.guests
