"""The gateway reads an OVA appliance on pvesim's import storage (``import-metadata``)."""

from __future__ import annotations

import pytest

from inventory.proxmox import ProxmoxServerError
from inventory.proxmox.appliances import ApplianceDisk, ImportMetadata

OVA = "local:import/legacy-erp.ova"


def test_import_metadata_is_typed(root_sim, gw):
    meta = gw.import_metadata(node=root_sim.first_node(), storage="local", volume=OVA)

    assert isinstance(meta, ImportMetadata)
    assert (meta.cores, meta.memory_mib) == (4, 6144)
    assert meta.create_args["name"] == "legacy-erp"
    assert meta.disks[0] == ApplianceDisk("scsi0", f"{OVA}/legacy-erp-disk1.vmdk", 32 * 1024**3)
    assert [d.slot for d in meta.disks] == ["scsi0", "scsi1"]
    assert meta.nets == {"net0": {"model": "vmxnet3"}}
    assert meta.warnings == ("ova-needs-extracting",)


def test_import_metadata_of_a_missing_volume_names_it(root_sim, gw):
    # PVE's OVF reader runs tar on the archive; a missing one fails that command.
    with pytest.raises(ProxmoxServerError, match=r"/var/lib/vz/import/gone\.ova"):
        gw.import_metadata(
            node=root_sim.first_node(), storage="local", volume="local:import/gone.ova"
        )


def test_disks_given_as_bare_volids_and_warnings_with_keys_are_read():
    meta = ImportMetadata.from_api(
        {
            "create-args": {"name": "x"},
            "disks": {"sata0": "local:import/x.ovf-disk.vmdk", "efidisk0": 1},
            "warnings": [{"type": "efi-state-lost", "key": "bios", "value": "ovmf"}],
        }
    )
    assert meta.disks == (ApplianceDisk("sata0", "local:import/x.ovf-disk.vmdk", 0),)
    assert meta.warnings == ("efi-state-lost (bios=ovmf)",)
    assert meta.cores is None
