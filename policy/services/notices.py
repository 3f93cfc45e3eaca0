"""Telling people about new violations: at most one notice per person per cycle.

Who: the current owner and custodian of each guest with new violations (not waived) and
the managers of its team; inactive users are skipped (``notify_many``). What: a person
with one guest to hear about gets a notice linking that guest's page; a person with
several gets one notice naming them (the first ``LISTED``), linking the violation list
of the cycle (``?detected=<the cycle's time>``). A first reconcile of a big estate thus
writes one notice per person, not one per guest.

De-duplication, as with one notice per guest: nobody is told again about a guest while
a notice about it is unread, be it the guest's own notice (by its link) or a cycle
notice that covered it (the guest has violations first detected at that cycle's time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from django.urls import reverse

from governance.accounts.models import TeamMembership
from governance.notifications.models import Notification
from governance.notifications.services import notify_many
from governance.ownership.models import Ownership
from inventory.models import VirtualMachine
from policy.models import Violation

NOTIFICATION_KIND = "policy.violation"
LISTED = 50
# Ids per IN (...) list: SQLite refuses more than 32,766 parameters in one statement.
CHUNK = 5000


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def recipients_of(vm_ids: Iterable[int], *, managers: bool = True) -> dict[int, list]:
    """The people told about each guest: current owner, custodian and (``managers``) the
    managers of its team; guests nobody answers for are left out."""
    people: dict[int, dict[int, object]] = defaultdict(dict)
    by_team: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(vm_ids):
        rows = Ownership.objects.filter(until__isnull=True, vm_id__in=chunk).select_related(
            "owner", "custodian"
        )
        for row in rows:
            for user in (row.owner, row.custodian):
                if user is not None:
                    people[row.vm_id][user.pk] = user
            if row.team_id is not None:
                by_team[row.team_id].append(row.vm_id)
    if managers and by_team:
        leads = TeamMembership.objects.filter(team_id__in=list(by_team), is_manager=True)
        for membership in leads.select_related("user"):
            for vm_id in by_team[membership.team_id]:
                people[vm_id][membership.user_id] = membership.user
    return {vm_id: list(users.values()) for vm_id, users in people.items()}


def cycle_link(detected: datetime) -> str:
    """The violation list of one cycle: what was first detected at ``detected``."""
    return f"{reverse('policy:violations')}?{urlencode({'detected': detected.isoformat()})}"


def violations_notify(*, opened: Sequence[Violation], now: datetime) -> int:
    """Tell the people concerned about ``opened`` (violations first detected at ``now``);
    how many notices were created."""
    by_vm: dict[int, list[Violation]] = defaultdict(list)
    for violation in opened:
        if violation.vm_id is not None and violation.remediation_state != "waived":
            by_vm[violation.vm_id].append(violation)
    if not by_vm:
        return 0
    users: dict[int, object] = {}
    news: dict[int, list[int]] = defaultdict(list)
    for vm_id, people in recipients_of(by_vm).items():
        for user in people:
            users[user.pk] = user
            news[user.pk].append(vm_id)
    if not news:
        return 0
    told = _already_told(list(users), by_vm)
    names: dict[int, str] = {}
    for chunk in _chunks(by_vm):
        names.update(VirtualMachine.objects.filter(pk__in=chunk).values_list("pk", "name"))
    sent = 0
    for user_id, vm_ids in news.items():
        fresh = sorted(vm_id for vm_id in vm_ids if vm_id not in told.get(user_id, ()))
        if len(fresh) == 1:
            found = by_vm[fresh[0]]
            what = (
                found[0].summary if len(found) == 1 else f"{len(found)} policy violations on a VM"
            )
            subject = f"Policy violation: {what}"
            body = "\n".join(v.summary for v in found)
            link = _vm_link(fresh[0])
        elif fresh:
            subject = f"Policy violations on {len(fresh)} VMs"
            lines = [
                f"{names.get(vm_id, vm_id)}: " + "; ".join(v.summary for v in by_vm[vm_id])
                for vm_id in fresh[:LISTED]
            ]
            if len(fresh) > LISTED:
                lines.append(f"... and {len(fresh) - LISTED} more VMs: see the list.")
            body, link = "\n".join(lines), cycle_link(now)
        else:
            continue
        created = notify_many(
            users=[users[user_id]], kind=NOTIFICATION_KIND, subject=subject, body=body, link=link
        )
        sent += len(created)
    return sent


def _vm_link(vm_id: int) -> str:
    return reverse("inventory:vm", kwargs={"pk": vm_id})


def _already_told(user_ids: list[int], vm_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per person, the guests of ``vm_ids`` an unread notice of theirs already covers."""
    links = {_vm_link(vm_id): vm_id for vm_id in vm_ids}
    cycles_prefix = reverse("policy:violations") + "?"
    told: dict[int, set[int]] = defaultdict(set)
    cycles: dict[int, set[datetime]] = defaultdict(set)
    unread = Notification.objects.filter(
        user_id__in=user_ids, kind=NOTIFICATION_KIND, read_at__isnull=True
    ).values_list("user_id", "link")
    for user_id, link in unread:
        if (vm_id := links.get(link)) is not None:
            told[user_id].add(vm_id)
        elif link.startswith(cycles_prefix):
            stamps = parse_qs(urlsplit(link).query).get("detected", ())
            cycles[user_id].update(datetime.fromisoformat(s) for s in stamps)
    if cycles:
        covered: dict[datetime, set[int]] = defaultdict(set)
        moments = list(set().union(*cycles.values()))
        for chunk in _chunks(links.values()):
            rows = Violation.objects.filter(first_detected__in=moments, vm_id__in=chunk)
            for vm_id, moment in rows.values_list("vm_id", "first_detected"):
                covered[moment].add(vm_id)
        for user_id, moments_seen in cycles.items():
            for moment in moments_seen:
                told[user_id] |= covered.get(moment, set())
    return told
