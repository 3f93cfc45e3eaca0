"""The migration form: another node of the cluster or of another registered cluster."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from governance.approvals.forms.base import RequestForm, storages_of
from governance.core.permissions import restrict
from inventory.models import Cluster, Node
from inventory.models.clusters import StorageClass


class MigrateForm(RequestForm):
    """Move the guest to another live node of its cluster or of another registered cluster.

    A node of another cluster makes the request a cross-cluster (remote) migration:
    ``parameters()`` then names ``target_cluster`` and the storage there, which approval
    chains scoped to cross-cluster moves pick up.
    """

    kind = "migrate"
    title = "Request a migration"

    target_node = forms.ModelChoiceField(queryset=Node.objects.none(), label="Target node")
    online = forms.BooleanField(
        required=False, initial=True, label="Live migration (keep the VM running)"
    )
    target_storage = forms.CharField(
        max_length=100,
        required=False,
        help_text="Another cluster only: the approved storage the disks go to.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The guest's own cluster, plus every other cluster the user may see.
        clusters = restrict(Cluster.objects.filter(enabled=True), self.user).values("pk")
        nodes = Node.objects.filter(
            Q(cluster=self.cluster) | Q(cluster__in=clusters), gone_since__isnull=True
        )
        if self.vm is not None and self.vm.node_id:
            nodes = nodes.exclude(pk=self.vm.node_id)
        # This cluster's nodes first, then the others by cluster name.
        self.fields["target_node"].queryset = nodes.select_related("cluster").order_by(
            "cluster__name", "name"
        )
        self.fields["target_node"].label_from_instance = self._node_label

    def _node_label(self, node: Node) -> str:
        if self.cluster is not None and node.cluster_id == self.cluster.pk:
            return f"{node.name} ({node.status})"
        return f"{node.cluster.name} / {node.name} ({node.status}, another cluster)"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        node, storage = data.get("target_node"), data.get("target_storage", "")
        if node is None or self.cluster is None or node.cluster_id == self.cluster.pk:
            return data
        approved = storages_of(node.cluster, StorageClass.APPROVED).filter(name=storage)
        if not approved.exists():
            self.add_error(
                "target_storage",
                f"Name an approved storage of {node.cluster.name} for the disks.",
            )
        return data

    def parameters(self) -> dict[str, Any]:
        node: Node = self.cleaned_data["target_node"]
        params: dict[str, Any] = {"target_node": node.name, "online": self.cleaned_data["online"]}
        if self.cluster is not None and node.cluster_id != self.cluster.pk:
            params["target_cluster"] = node.cluster.name
            params["target_storage"] = self.cleaned_data["target_storage"]
        return params
