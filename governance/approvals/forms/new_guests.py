"""Forms of the kinds that create a guest: provision (from a template or empty) and
import (a disk image)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from governance.accounts.models import Team
from governance.approvals.execution.kinds.appliances import appliance_read, is_appliance
from governance.approvals.forms.base import (
    RequestForm,
    in_future,
    live_nodes,
    storages_of,
    teams_of,
)
from governance.approvals.quota_usage import quota_help
from governance.core.permissions import restrict
from inventory.models import Classification, Node, Storage, VirtualMachine
from inventory.models.clusters import StorageClass
from inventory.proxmox import ProxmoxError


class ProvisionForm(RequestForm):
    """A new guest: cloned from a template the user may see, or created empty."""

    kind = "provision"
    needs_vm = False
    title = "Request a new VM"

    node = forms.ModelChoiceField(queryset=Node.objects.none())
    template = forms.ModelChoiceField(
        queryset=VirtualMachine.objects.none(),
        required=False,
        empty_label="None: create an empty VM",
        help_text="Clone this template; leave empty to create from scratch.",
    )
    name = forms.SlugField(max_length=63, help_text="Letters, digits and dashes.")
    cores = forms.IntegerField(min_value=1, max_value=64, initial=2)
    memory_mib = forms.IntegerField(
        label="Memory (MiB)", min_value=256, max_value=524288, initial=2048
    )
    disk_gib = forms.IntegerField(
        label="Disk (GiB)",
        min_value=1,
        max_value=4096,
        initial=16,
        help_text="For a VM from scratch; a VM from a template gets the template's disks.",
    )
    storage = forms.ModelChoiceField(
        queryset=Storage.objects.none(), help_text="Approved storage only."
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    classification = forms.ChoiceField(
        choices=Classification.choices, initial=Classification.INTERNAL
    )
    lease_end = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        required=False,
        help_text="When the VM may be reclaimed; empty for no lease.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node"].queryset = live_nodes(self.cluster)
        self.fields["node"].label_from_instance = lambda node: node.name
        self.fields["storage"].queryset = storages_of(self.cluster, StorageClass.APPROVED)
        self.fields["storage"].label_from_instance = lambda storage: storage.name
        self.fields["team"].queryset = teams_of(self.user)
        self.fields["team"].help_text = quota_help(
            self.fields["team"].queryset.values_list("pk", flat=True),
            cluster_id=self.cluster.pk if self.cluster is not None else None,
        )
        templates = VirtualMachine.objects.filter(
            cluster=self.cluster, template=True, gone_since__isnull=True
        )
        self.fields["template"].queryset = restrict(templates, self.user).order_by("name")
        self.fields["template"].label_from_instance = lambda vm: f"{vm.name or vm.vmid} ({vm.vmid})"

    def clean_lease_end(self) -> date | None:
        in_future(self.cleaned_data["lease_end"], "lease end")
        return self.cleaned_data["lease_end"]

    def parameters(self) -> dict[str, Any]:
        params = super().parameters()
        params["source"] = "clone" if params.get("template") else "scratch"
        return params


class ImportForm(RequestForm):
    """Bring an external disk image in onto approved storage, owned by the requester."""

    kind = "import"
    needs_vm = False
    title = "Request an import"

    source_volume = forms.CharField(
        max_length=300,
        help_text=(
            "Volume id on an import storage: a disk image (import:import/disk.qcow2) or an "
            "appliance (import:import/appliance.ova), whose size and disks come along."
        ),
    )
    name = forms.SlugField(max_length=63)
    node = forms.ModelChoiceField(queryset=Node.objects.none())
    storage = forms.ModelChoiceField(
        queryset=Storage.objects.none(), help_text="Approved storage only."
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    classification = forms.ChoiceField(
        choices=Classification.choices, initial=Classification.INTERNAL
    )
    cores = forms.IntegerField(
        min_value=1, max_value=128, required=False, help_text="Empty: the appliance's own, or 2."
    )
    memory_mib = forms.IntegerField(
        label="Memory (MiB)",
        min_value=64,
        max_value=4 * 1024 * 1024,
        required=False,
        help_text="Empty: the appliance's own, or 2048.",
    )
    bridge = forms.RegexField(
        regex=r"^[a-zA-Z][\w.-]{0,14}$",
        required=False,
        help_text="Network bridge for an appliance's NICs; empty: vmbr0.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.cluster is not None:
            self.fields["node"].queryset = live_nodes(self.cluster)
            self.fields["storage"].queryset = storages_of(self.cluster, StorageClass.APPROVED)
        self.fields["node"].label_from_instance = lambda node: node.name
        self.fields["storage"].label_from_instance = lambda storage: storage.name
        self.fields["team"].queryset = teams_of(self.user)
        self.fields["team"].help_text = quota_help(
            self.fields["team"].queryset.values_list("pk", flat=True),
            cluster_id=self.cluster.pk if self.cluster is not None else None,
        )

    def clean_source_volume(self) -> str:
        volume = self.cleaned_data["source_volume"].strip()
        storage, sep, path = volume.partition(":")
        if not sep or not path:
            raise ValidationError("Write the volume as <storage>:<path>.", code="volume")
        if (
            self.cluster is not None
            and not Storage.objects.filter(
                cluster=self.cluster, name=storage, gone_since__isnull=True
            ).exists()
        ):
            raise ValidationError(
                f"No storage {storage} in cluster {self.cluster.name}.", code="volume"
            )
        return volume

    def clean(self) -> dict[str, Any]:
        """An appliance is read from Proxmox now, so the request (and its quota) carries
        the size it will have: cores and memory the requester left empty are its own."""
        data = super().clean()
        volume, node = data.get("source_volume"), data.get("node")
        if not volume or node is None or self.cluster is None or not is_appliance(volume):
            return data
        try:
            meta = appliance_read(self.cluster, node=node.name, volume=volume)
        except ProxmoxError as exc:
            self.add_error(
                "source_volume",
                f"Proxmox cannot read {volume} as an appliance on {node.name} ({exc}); "
                "name an .ova/.ovf on an import storage that node sees.",
            )
            return data
        if not data.get("cores"):
            data["cores"] = meta.cores
        if not data.get("memory_mib"):
            data["memory_mib"] = meta.memory_mib
        return data
