"""Forms of the kinds that copy a guest: export (a backup, or a copy on another
cluster) and clone (optionally made a template)."""

from __future__ import annotations

from typing import Any

from django import forms

from governance.approvals.forms.base import RequestForm, live_nodes, storages_of
from governance.approvals.services.prechecks import EXPORT_COPY_CLASSES
from governance.core.permissions import restrict
from inventory.models import Cluster, Node, Storage
from inventory.models.clusters import StorageClass

#: How an export takes the VM out (``method`` of the export kind).
EXPORT_METHODS = (
    ("backup", "Backup to an export storage of this cluster"),
    ("cluster", "Copy to another registered cluster"),
)


class ExportForm(RequestForm):
    """Take a copy of the guest out, kept for a while: a backup onto an export storage,
    or a copy on another registered cluster (a full clone moved there by PVE's remote
    migration; the VM itself keeps running)."""

    kind = "export"
    title = "Request an export"

    method = forms.ChoiceField(
        choices=EXPORT_METHODS,
        initial="backup",
        widget=forms.RadioSelect,
        help_text="A copy to another cluster: the VM keeps running; a full clone is made "
        "on this cluster (onto its approved storage) and moved to the other cluster, so "
        "nothing of it stays here. The copy there is stopped.",
    )
    storage = forms.ModelChoiceField(
        queryset=Storage.objects.none(),
        required=False,
        label="Export storage",
        help_text="Backup: an external storage of this cluster.",
    )
    target_node = forms.ModelChoiceField(
        queryset=Node.objects.none(),
        required=False,
        label="Target node",
        help_text="Copy: a node of another registered cluster.",
    )
    target_storage = forms.CharField(
        max_length=100,
        required=False,
        help_text="Copy: an approved or external storage of the target cluster for the disks.",
    )
    available_days = forms.IntegerField(
        min_value=1,
        max_value=30,
        initial=7,
        label="Available for (days)",
        help_text="The export (archive or copy) is deleted after this many days.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["storage"].queryset = storages_of(self.cluster, StorageClass.EXTERNAL)
        self.fields["storage"].label_from_instance = lambda storage: storage.name
        others = restrict(Cluster.objects.filter(enabled=True), self.user)
        if self.cluster is not None:
            others = others.exclude(pk=self.cluster.pk)
        nodes = Node.objects.filter(cluster__in=others.values("pk"), gone_since__isnull=True)
        self.fields["target_node"].queryset = nodes.select_related("cluster").order_by(
            "cluster__name", "name"
        )
        self.fields["target_node"].label_from_instance = lambda node: (
            f"{node.cluster.name} / {node.name} ({node.status})"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("method") == "cluster":
            node, name = data.get("target_node"), data.get("target_storage", "")
            if node is None:
                self.add_error("target_node", "Choose a node of the cluster to copy to.")
            elif not Storage.objects.filter(
                cluster=node.cluster,
                name=name,
                gone_since__isnull=True,
                storage_class__in=EXPORT_COPY_CLASSES,
            ).exists():
                self.add_error(
                    "target_storage",
                    f"Name an approved or external storage of {node.cluster.name} for the disks.",
                )
        elif data.get("method") == "backup" and data.get("storage") is None:
            self.add_error("storage", "Choose the external storage the backup goes to.")
        return data

    def parameters(self) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {
            "method": data["method"],
            "available_days": data["available_days"],
        }
        if data["method"] == "cluster":
            node: Node = data["target_node"]
            params |= {
                "target_cluster": node.cluster.name,
                "target_node": node.name,
                "target_storage": data["target_storage"],
            }
        else:
            params["storage"] = data["storage"].name
        return params


class CloneForm(RequestForm):
    """A copy of the guest as a new guest, owned by the requester."""

    kind = "clone"
    title = "Request a clone"

    name = forms.SlugField(max_length=63)
    target_node = forms.ModelChoiceField(queryset=Node.objects.none(), label="Target node")
    full = forms.BooleanField(required=False, initial=True, label="Full clone")
    template = forms.BooleanField(
        required=False,
        label="Make the clone a template",
        help_text="Converted after cloning (irreversible); refused for VMs a copy-limits "
        "policy keeps templates away from.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_node"].queryset = live_nodes(self.cluster)
        self.fields["target_node"].label_from_instance = lambda node: node.name
