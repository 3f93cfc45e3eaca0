"""Which OS release a guest runs and whether its support has ended.

Matching rule: what the guest agent reported (``os_id`` + ``version_id``) first, the
release whose ``version`` equals the reported version or is a leading part of it at a
dot (agent ``rocky`` ``9.5`` is Rocky Linux ``9``); only when the agent matched no row
(or never answered) does the config ``ostype`` decide, and only for ostypes old enough
to name their releases (``win7``; ``l26`` says nothing). A release with no date is
never end of life. The same rule exists twice: in Python for a page's few groups, and
as a SQL condition for the VM list's ``eol`` filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q
from django.utils import timezone

from inventory.models import OsRelease

# What a config ostype says when the agent does not (Proxmox's own names).
OSTYPE_LABELS = {
    "l26": "Linux 2.6+ kernel",
    "l24": "Linux 2.4 kernel",
    "win11": "Windows 11/2022/2025",
    "win10": "Windows 10/2016/2019",
    "win8": "Windows 8.x/2012/2012 R2",
    "win7": "Windows 7/2008 R2",
    "w2k8": "Windows Vista/2008",
    "wvista": "Windows Vista",
    "w2k3": "Windows 2003",
    "wxp": "Windows XP",
    "w2k": "Windows 2000",
    "solaris": "Solaris/OpenSolaris/OpenIndiania",
    "other": "other",
}


@dataclass(frozen=True)
class Release:
    """An ``OsRelease`` row as plain data."""

    label: str
    os_id: str
    version: str
    ostype: str
    end_of_life: date | None

    def ended(self, today: date) -> bool:
        return self.end_of_life is not None and self.end_of_life <= today


def releases_load() -> list[Release]:
    return [
        Release(*row)
        for row in OsRelease.objects.values_list(
            "label", "os_id", "version", "ostype", "end_of_life"
        )
    ]


def _version_matches(reported: str, version: str) -> bool:
    return reported == version or reported.startswith(version + ".")


def release_match(
    releases: list[Release], *, os_id: str, version_id: str, ostype: str
) -> Release | None:
    """The release a guest runs by the module's rule, or None when nothing says."""
    if os_id:
        found = [
            r for r in releases if r.os_id == os_id and _version_matches(version_id, r.version)
        ]
        if found:  # the most specific version wins ("8.1" over "8")
            return max(found, key=lambda r: len(r.version))
    if ostype:
        return next((r for r in releases if r.ostype == ostype), None)
    return None


def _agent_q(release: Release) -> Q:
    return Q(osinfo__os_id=release.os_id) & (
        Q(osinfo__version_id=release.version)
        | Q(osinfo__version_id__startswith=release.version + ".")
    )


def _any(conditions: list[Q]) -> Q:
    result = Q(pk__in=[])
    for condition in conditions:
        result |= condition
    return result


def eol_q(releases: list[Release], *, today: date) -> Q:
    """Guests whose release has ended, as one SQL condition over ``VirtualMachine``.

    A more specific agent release that has not ended (``8.1`` alive under an ended
    ``8``) keeps its guests out, as ``release_match`` would.
    """
    agent = [r for r in releases if r.os_id]
    ended = _any([_agent_q(r) for r in agent if r.ended(today)])
    alive_specific = _any(
        [
            _agent_q(r)
            for r in agent
            if not r.ended(today)
            and any(o.os_id == r.os_id and r.version.startswith(o.version + ".") for o in agent)
        ]
    )
    by_ostype = Q(ostype__in=[r.ostype for r in releases if r.ostype and r.ended(today)])
    return (ended & ~alive_specific) | (by_ostype & ~_any([_agent_q(r) for r in agent]))


def os_key_q(key: str) -> Q | None:
    """The VM list's ``os`` filter: ``<os_id>:<version_id>`` as the agent reported, or
    ``ostype:<ostype>`` for guests whose agent never answered; None when malformed."""
    family, _, version = key.partition(":")
    if not family or not _:
        return None
    if family == "ostype":
        return Q(ostype=version) & (Q(osinfo__isnull=True) | Q(osinfo__os_id=""))
    return Q(osinfo__os_id=family, osinfo__version_id=version)


def vm_os(vm: Any, *, today: date | None = None) -> dict[str, Any]:
    """What the VM page and the VM detail API say about a guest's OS and its support."""
    info = getattr(vm, "osinfo", None)  # the reverse one-to-one raises AttributeError
    known = info is not None and info.read_at is not None
    release = release_match(
        releases_load(),
        os_id=info.os_id if known else "",
        version_id=info.version_id if known else "",
        ostype=vm.ostype,
    )
    today = today or timezone.localdate()
    return {
        "os_id": info.os_id if known else "",
        "name": info.name if known else "",
        "version_id": info.version_id if known else "",
        "pretty_name": info.pretty_name if known else "",
        "kernel_release": info.kernel_release if known else "",
        "machine": info.machine if known else "",
        "read_at": info.read_at if info else None,
        "checked_at": info.checked_at if info else None,
        "agent_error": info.error if info else "",
        "ostype_label": OSTYPE_LABELS.get(vm.ostype, vm.ostype),
        "release": release.label if release else "",
        "end_of_life": release.end_of_life if release else None,
        "eol": bool(release and release.ended(today)),
    }
