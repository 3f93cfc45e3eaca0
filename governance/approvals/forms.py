"""Request forms, one per kind, checked against the inventory before submission.

A form only offers what the inventory holds for the request's cluster (live nodes other
than the guest's own, storages of the right class, the guest's snapshots, teams) and
turns the answers into the request's ``parameters`` JSON with ``parameters()``. Policy
rules (allowed nodes, copy limits, quota) are the submit service's to check: its
``ValidationError`` is shown on the same form, so the requester sees every refusal
before anything is stored.

The idempotency key is made when the empty form is rendered and travels in a hidden
field, so a double-clicked submit posts the same key twice and the service stores one
request.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.accounts.models import Team
from governance.approvals.quota_usage import quota_help
from governance.approvals.services.prechecks import EXPORT_COPY_CLASSES
from governance.core.permissions import restrict
from inventory.models import Classification, Cluster, Copy, Node, Storage, VirtualMachine
from inventory.models.clusters import StorageClass
from inventory.models.ledgers import CopyKind
from policy.models import Policy

MIN_JUSTIFICATION = 10
# Proxmox roles a time-limited access request may ask for; never Administrator.
ACCESS_ROLES = (
    ("PVEVMUser", "VM user (console, power)"),
    ("PVEAuditor", "Auditor (read only)"),
    ("PVEVMAdmin", "VM admin (configuration)"),
)


def _live_nodes(cluster: Cluster) -> Any:
    return Node.objects.filter(cluster=cluster, gone_since__isnull=True).order_by("name")


def _storages(cluster: Cluster, *classes: str) -> Any:
    return Storage.objects.filter(
        cluster=cluster, gone_since__isnull=True, storage_class__in=classes
    ).order_by("name")


class RequestForm(forms.Form):
    """Fields every request has; subclasses add the kind's own and build ``parameters``.

    ``vm`` is the request's target (already visible to ``user``; None for kinds that
    create a guest) and ``cluster`` the cluster the request acts on.
    """

    kind: ClassVar[str] = ""
    needs_vm: ClassVar[bool] = True
    title: ClassVar[str] = ""

    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this is needed; approvers read it.",
        min_length=MIN_JUSTIFICATION,
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        user: Any,
        vm: VirtualMachine | None = None,
        cluster: Cluster | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.user = user
        self.vm = vm
        self.cluster = cluster or (vm.cluster if vm is not None else None)
        # The key field renders last so the visible fields keep their declared order.
        self.order_fields([name for name in self.fields if name != "justification"])

    def parameters(self) -> dict[str, Any]:
        """The request's parameters as JSON-safe values; call after ``is_valid()``."""
        skip = {"justification", "idempotency_key"}
        return {k: _json(v) for k, v in self.cleaned_data.items() if k not in skip}


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Node | Storage | Cluster):
        return value.name
    if isinstance(value, models.Model):
        # Teams, template guests, policies: stored by primary key.
        return value.pk
    return value


def _teams_of(user: Any) -> Any:
    teams = Team.objects.all() if user.is_superuser else Team.objects.filter(members=user)
    return teams.order_by("name")


def _future(value: date | None, what: str) -> None:
    if value is not None and value <= timezone.localdate():
        raise ValidationError(f"The {what} must be in the future.", code="past")


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
        self.fields["node"].queryset = _live_nodes(self.cluster)
        self.fields["node"].label_from_instance = lambda node: node.name
        self.fields["storage"].queryset = _storages(self.cluster, StorageClass.APPROVED)
        self.fields["storage"].label_from_instance = lambda storage: storage.name
        self.fields["team"].queryset = _teams_of(self.user)
        self.fields["team"].help_text = quota_help(
            self.fields["team"].queryset.values_list("pk", flat=True)
        )
        templates = VirtualMachine.objects.filter(
            cluster=self.cluster, template=True, gone_since__isnull=True
        )
        self.fields["template"].queryset = restrict(templates, self.user).order_by("name")
        self.fields["template"].label_from_instance = lambda vm: f"{vm.name or vm.vmid} ({vm.vmid})"

    def clean_lease_end(self) -> date | None:
        _future(self.cleaned_data["lease_end"], "lease end")
        return self.cleaned_data["lease_end"]

    def parameters(self) -> dict[str, Any]:
        params = super().parameters()
        params["source"] = "clone" if params.get("template") else "scratch"
        return params


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
        approved = _storages(node.cluster, StorageClass.APPROVED).filter(name=storage)
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


#: How an export takes the VM out (``method`` of the export kind).
EXPORT_METHODS = (
    ("backup", "Backup to an export storage of this cluster"),
    ("cluster", "Copy to another registered cluster"),
)


class ExportForm(RequestForm):
    """Take a copy of the guest out, kept for a while: a backup onto an export storage,
    or a copy on another registered cluster (PVE's remote migration keeping the source)."""

    kind = "export"
    title = "Request an export"

    method = forms.ChoiceField(
        choices=EXPORT_METHODS,
        initial="backup",
        widget=forms.RadioSelect,
        help_text="A copy to another cluster leaves this VM stopped and locked (migrate) "
        "on its cluster, as Proxmox does after a remote migration that keeps the source, "
        "until an administrator unlocks it (qm unlock); a running VM is copied live.",
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
        self.fields["storage"].queryset = _storages(self.cluster, StorageClass.EXTERNAL)
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
        self.fields["target_node"].queryset = _live_nodes(self.cluster)
        self.fields["target_node"].label_from_instance = lambda node: node.name


class _SnapshotForm(RequestForm):
    """A request about one of the guest's recorded, still existing snapshots."""

    snapshot = forms.ChoiceField(choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = (
            Copy.objects.filter(vm=self.vm, kind=CopyKind.SNAPSHOT, deleted_at__isnull=True)
            .exclude(name="current")
            .order_by("created_at")
            .values_list("name", flat=True)
            if self.vm is not None
            else []
        )
        self.fields["snapshot"].choices = [(name, name) for name in names]


class RollbackForm(_SnapshotForm):
    kind = "rollback"
    title = "Request a rollback to a snapshot"


class SnapshotDeleteForm(_SnapshotForm):
    kind = "snapshot_delete"
    title = "Request a snapshot deletion"


class OwnershipTransferForm(RequestForm):
    """Hand the guest to another person (and optionally another team)."""

    kind = "ownership_transfer"
    title = "Request an ownership transfer"

    owner = forms.CharField(label="New owner (username)")
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False)

    def clean_owner(self) -> int:
        username = self.cleaned_data["owner"].strip()
        owner = get_user_model().objects.filter(username=username, is_active=True).first()
        if owner is None:
            raise ValidationError("No active user has this username.", code="unknown_user")
        return owner.pk


class ExceptionForm(RequestForm):
    """A time-limited exemption of the guest from one policy."""

    kind = "exception"
    title = "Request a policy exception"

    policy = forms.ModelChoiceField(
        queryset=Policy.objects.filter(enabled=True).order_by("name"),
        help_text="The policy this VM should not be held to until the date below.",
    )
    until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean_until(self) -> date:
        _future(self.cleaned_data["until"], "end date")
        return self.cleaned_data["until"]


class AccessForm(RequestForm):
    """A Proxmox role on the guest for a user, from a start to an end time."""

    kind = "access"
    title = "Request time-limited access"

    grantee = forms.CharField(label="For (username)", help_text="Empty: yourself.", required=False)
    role = forms.ChoiceField(choices=ACCESS_ROLES)
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def clean_grantee(self) -> int:
        username = self.cleaned_data["grantee"].strip()
        if not username:
            return self.user.pk
        grantee = get_user_model().objects.filter(username=username, is_active=True).first()
        if grantee is None:
            raise ValidationError("No active user has this username.", code="unknown_user")
        return grantee.pk

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends:
            if ends <= starts:
                self.add_error("ends_at", "The end must be after the start.")
            elif ends <= timezone.now():
                self.add_error("ends_at", "The end must be in the future.")
        return data


class ImportForm(RequestForm):
    """Bring an external disk image in onto approved storage, owned by the requester."""

    kind = "import"
    needs_vm = False
    title = "Request an import"

    source_volume = forms.CharField(
        max_length=300, help_text="Volume id on an import storage, e.g. import:import/disk.qcow2"
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.cluster is not None:
            self.fields["node"].queryset = _live_nodes(self.cluster)
            self.fields["storage"].queryset = _storages(self.cluster, StorageClass.APPROVED)
        self.fields["node"].label_from_instance = lambda node: node.name
        self.fields["storage"].label_from_instance = lambda storage: storage.name
        self.fields["team"].queryset = _teams_of(self.user)
        self.fields["team"].help_text = quota_help(
            self.fields["team"].queryset.values_list("pk", flat=True)
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


from governance.approvals.forms_backup import BackupDeleteForm  # noqa: E402 - subclasses RequestForm

FORMS: dict[str, type[RequestForm]] = {
    form.kind: form
    for form in (
        ProvisionForm,
        ImportForm,
        ExportForm,
        MigrateForm,
        CloneForm,
        RollbackForm,
        SnapshotDeleteForm,
        BackupDeleteForm,
        OwnershipTransferForm,
        ExceptionForm,
        AccessForm,
    )
}
# Kinds whose request page is opened from a VM page, in the order its buttons show.
VM_KINDS = tuple(kind for kind, form in FORMS.items() if form.needs_vm)
