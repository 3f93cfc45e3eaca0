"""A request's parameters as an approver reads them: labelled, in people's words.

``Request.parameters`` stays machine-readable (ids, names, ISO dates) because the
execution engine and the API read it; this module is the one place that turns it into
what a person decides on. Each kind declares its fields once in ``KIND_FIELDS`` (label
and how to show the value); keys a kind does not declare still show, under a readable
label, so nothing an approver is asked to approve is ever hidden from them.

Objects named by id (template guest, team, policy, violation, people) and other clusters
are resolved for the viewer: a link when they may open the object, and never its name
when they may not see it, only that it exists ("a VM you cannot view").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_date, parse_datetime

from governance.accounts.models import Team
from governance.approvals.forms import ACCESS_ROLES, EXPORT_METHODS
from governance.approvals.models import Request
from governance.core.permissions import can
from inventory.models import Classification, Cluster, VirtualMachine
from policy.models import Policy, Violation


class ParameterLine(NamedTuple):
    """One labelled value; ``url`` only when the viewer may open the object."""

    label: str
    text: str
    url: str | None = None


@dataclass(frozen=True)
class _Seen:
    """What a formatter may look at: the viewer, the request and its parameters."""

    viewer: Any
    request: Request
    params: dict[str, Any]


#: A formatter returns (text, url), or None when the value says nothing worth a line.
Shown = tuple[str, str | None] | None
Formatter = Callable[[Any, _Seen], Shown]


def _text(value: Any, seen: _Seen) -> Shown:
    return (str(value), None) if _present(value) else None


def _yes_no(value: Any, seen: _Seen) -> Shown:
    return ("Yes" if value in (True, "true", "True", "on", 1) else "No"), None


def _memory(value: Any, seen: _Seen) -> Shown:
    mib = _int(value)
    if mib is None:
        return _text(value, seen)
    if mib < 1024:
        return f"{mib} MiB", None
    gib = mib / 1024
    return f"{gib:.1f}".removesuffix(".0") + " GiB", None


def _disk(value: Any, seen: _Seen) -> Shown:
    if seen.params.get("template"):
        # A VM from a template gets the template's disks; disk_gib is not used.
        return "the template's disks", None
    return (f"{value} GiB", None) if _present(value) else None


def _days(value: Any, seen: _Seen) -> Shown:
    days = _int(value)
    if days is None:
        return _text(value, seen)
    return ("1 day" if days == 1 else f"{days} days"), None


def _date(value: Any, seen: _Seen) -> Shown:
    day = parse_date(str(value)) if _present(value) else None
    return (date_format(day, "Y-m-d"), None) if day else _text(value, seen)


def _lease_end(value: Any, seen: _Seen) -> Shown:
    return _date(value, seen) if _present(value) else ("no end", None)


def _moment(value: Any, seen: _Seen) -> Shown:
    moment = parse_datetime(str(value)) if _present(value) else None
    if moment is None:
        return _text(value, seen)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return date_format(moment, "Y-m-d H:i"), None


def _choice(choices: Any) -> Formatter:
    labels = dict(choices)

    def show(value: Any, seen: _Seen) -> Shown:
        return (str(labels.get(value, value)), None) if _present(value) else None

    return show


def _template(value: Any, seen: _Seen) -> Shown:
    if not _present(value):
        return "none: an empty VM", None
    return _guest(VirtualMachine.objects.filter(pk=_int(value)).first(), seen, value)


def _guest(vm: VirtualMachine | None, seen: _Seen, asked: Any) -> Shown:
    if vm is None or not can(seen.viewer, "view", vm):
        return _unseen("VM", vm, asked)
    return f"{vm.name or vm.vmid} ({vm.vmid})", reverse("inventory:vm", kwargs={"pk": vm.pk})


def _source_vm(value: Any, seen: _Seen) -> Shown:
    """A guest of another cluster an import brings in: ``source_cluster`` + ``source_vmid``."""
    vmid = _int(seen.params.get("source_vmid"))
    if not _present(value) or vmid is None:
        return None
    vm = VirtualMachine.objects.filter(cluster__name=value, vmid=vmid).first()
    if vm is None:
        cluster = _cluster_shown(value, seen)
        return (f"VM {vmid} on {cluster[0]}", None) if cluster else None
    return _guest(vm, seen, vmid)


def _cluster(value: Any, seen: _Seen) -> Shown:
    return _cluster_shown(value, seen) if _present(value) else None


def _cluster_shown(name: str, seen: _Seen) -> Shown:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None or not can(seen.viewer, "view", cluster):
        return "a cluster you cannot view", None
    return cluster.name, reverse("inventory:cluster", kwargs={"name": cluster.name})


def _in_target_cluster(value: Any, seen: _Seen) -> Shown:
    """A node or storage of ``target_cluster``: hidden with that cluster."""
    other = seen.params.get("target_cluster")
    if _present(other) and _present(value):
        cluster = Cluster.objects.filter(name=other).first()
        if cluster is None or not can(seen.viewer, "view", cluster):
            return "not shown: on a cluster you cannot view", None
    return _text(value, seen)


def _team(value: Any, seen: _Seen) -> Shown:
    """A team's name is what the requester chose and what an approver decides on (a
    manager approving a transfer into another team must know which): shown to anyone who
    sees the request, linked only for those who may open the team's page."""
    if not _present(value):
        return None
    team = Team.objects.filter(pk=_int(value)).first()
    if team is None:
        return _unseen("team", team, value)
    if not can(seen.viewer, "view", team):
        return team.name, None
    return team.name, reverse("accounts:team", kwargs={"slug": team.slug})


def _person(value: Any, seen: _Seen) -> Shown:
    """People are named: an approver must know who gains a VM or a right on it."""
    if not _present(value):
        return None
    person = get_user_model().objects.filter(pk=_int(value)).first()
    if person is None:
        return f"unknown person (#{value})", None
    username = person.get_username()
    full = person.get_full_name()
    return (f"{full} ({username})" if full else username), None


def _policy(value: Any, seen: _Seen) -> Shown:
    policy = Policy.objects.filter(pk=_int(value)).first() if _present(value) else None
    if policy is None or not can(seen.viewer, "view", policy):
        return _unseen("policy", policy, value) if _present(value) else None
    return policy.name, reverse("policy:policy", kwargs={"pk": policy.pk})


def _violation(value: Any, seen: _Seen) -> Shown:
    found = Violation.objects.filter(pk=_int(value)).first() if _present(value) else None
    if found is None or not can(seen.viewer, "view", found):
        return _unseen("violation", found, value) if _present(value) else None
    return f"#{found.pk}", reverse("policy:violation", kwargs={"pk": found.pk})


def _unseen(what: str, obj: models.Model | None, asked: Any) -> Shown:
    if obj is None:
        return f"{what} #{asked}, no longer known", None
    return f"a {what} you cannot view", None


def _internal(value: Any, seen: _Seen) -> Shown:
    """Derived from another field already shown (provision's ``source``)."""
    return None


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


_NAME = ("name", "Name", _text)
_NODE = ("node", "Node", _text)
_STORAGE = ("storage", "Storage", _text)
_TEAM = ("team", "Team", _team)
_CLASS = ("classification", "Classification", _choice(Classification.choices))
_CORES = ("cores", "CPU cores", _text)
_MEMORY = ("memory_mib", "Memory", _memory)
_TARGET = (
    ("target_cluster", "Target cluster", _cluster),
    ("target_node", "Target node", _in_target_cluster),
    ("target_storage", "Target storage", _in_target_cluster),
)
_SNAPSHOT = (("snapshot", "Snapshot", _text),)

#: Per kind, in the order a person reads them: (parameter key, label, formatter).
KIND_FIELDS: dict[str, tuple[tuple[str, str, Formatter], ...]] = {
    "provision": (
        _NAME,
        ("template", "Template", _template),
        ("source", "Source", _internal),
        _NODE,
        _STORAGE,
        _CORES,
        _MEMORY,
        ("disk_gib", "Disk", _disk),
        _TEAM,
        _CLASS,
        ("lease_end", "Lease end", _lease_end),
    ),
    "import": (
        ("source_volume", "Disk image or appliance", _text),
        ("source_cluster", "Source VM", _source_vm),
        ("source_vmid", "Source VM id", _internal),
        _NAME,
        _NODE,
        _STORAGE,
        _CORES,
        _MEMORY,
        ("bridge", "Network bridge", _text),
        _TEAM,
        _CLASS,
    ),
    "export": (
        ("method", "Method", _choice(EXPORT_METHODS)),
        ("storage", "Export storage", _text),
        *_TARGET,
        ("clone_storage", "Copy made on storage", _text),
        ("available_days", "Available for", _days),
    ),
    "migrate": (
        *_TARGET,
        ("target_bridge", "Target bridge", _in_target_cluster),
        ("online", "Live migration", _yes_no),
    ),
    "clone": (
        _NAME,
        ("target_node", "Target node", _text),
        ("full", "Full clone", _yes_no),
        ("template", "Made a template", _yes_no),
    ),
    "rollback": _SNAPSHOT,
    "snapshot_delete": _SNAPSHOT,
    "backup_delete": (("volid", "Backup", _text), ("violation", "For violation", _violation)),
    "ownership_transfer": (
        ("owner", "New owner", _person),
        ("team", "New team", _team),
        ("custodian", "New custodian", _person),
    ),
    "exception": (
        ("policy", "Policy", _policy),
        ("rule_key", "Rule", _text),
        ("until", "Until", _date),
    ),
    "access": (
        ("grantee", "For", _person),
        ("role", "Proxmox role", _choice(ACCESS_ROLES)),
        ("starts_at", "From", _moment),
        ("ends_at", "Until", _moment),
    ),
}


def describe_parameters(request: Request, *, viewer: Any) -> list[ParameterLine]:
    """The request's parameters as ``viewer`` may read them, declared fields first."""
    params = request.parameters if isinstance(request.parameters, dict) else {}
    seen = _Seen(viewer=viewer, request=request, params=params)
    fields = KIND_FIELDS.get(request.kind, ())
    lines: list[ParameterLine] = []
    for key, label, show in fields:
        if key in params or show in (_lease_end, _template):
            lines.append(_line(label, show(params.get(key), seen)))
    declared = {key for key, _label, _show in fields}
    for key, value in params.items():
        if key not in declared:
            lines.append(_line(key.replace("_", " ").capitalize(), _loose(value, seen)))
    return [line for line in lines if line is not None]


def _loose(value: Any, seen: _Seen) -> Shown:
    """An undeclared value: booleans in words, anything else as stored."""
    return _yes_no(value, seen) if isinstance(value, bool) else _text(value, seen)


def _line(label: str, shown: Shown) -> ParameterLine | None:
    return ParameterLine(label, shown[0], shown[1]) if shown else None
