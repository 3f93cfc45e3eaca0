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

from django.urls import Resolver404, resolve, reverse

from governance.accounts.models import TeamMembership, User
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
    people: dict[int, set[int]] = defaultdict(set)
    by_team: dict[int, list[int]] = defaultdict(list)
    # Plain ids, then each person once: a big estate has far more guests than people.
    for chunk in _chunks(vm_ids):
        rows = Ownership.objects.filter(until__isnull=True, vm_id__in=chunk).values_list(
            "vm_id", "owner_id", "custodian_id", "team_id"
        )
        for vm_id, owner_id, custodian_id, team_id in rows:
            people[vm_id].update(i for i in (owner_id, custodian_id) if i is not None)
            if team_id is not None:
                by_team[team_id].append(vm_id)
    if managers and by_team:
        leads = TeamMembership.objects.filter(team_id__in=list(by_team), is_manager=True)
        for team_id, user_id in leads.values_list("team_id", "user_id"):
            for vm_id in by_team[team_id]:
                people[vm_id].add(user_id)
    users = User.objects.in_bulk(list(set().union(*people.values())))
    return {vm_id: [users[i] for i in sorted(ids)] for vm_id, ids in people.items()}


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
                f"{names.get(vm_id) or f'VM {vm_id}'}: "
                + "; ".join(v.summary for v in by_vm[vm_id])
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
    cycles_path = reverse("policy:violations")
    told: dict[int, set[int]] = defaultdict(set)
    cycles: dict[int, set[datetime]] = defaultdict(set)
    unread = Notification.objects.filter(
        user_id__in=user_ids, kind=NOTIFICATION_KIND, read_at__isnull=True
    ).values_list("user_id", "link")
    for user_id, link in unread:
        parts = urlsplit(link)
        if parts.path == cycles_path:
            stamps = parse_qs(parts.query).get("detected", ())
            cycles[user_id].update(datetime.fromisoformat(s) for s in stamps)
            continue
        try:
            match = resolve(parts.path)
        except Resolver404:
            continue
        if match.view_name == "inventory:vm":
            told[user_id].add(match.kwargs["pk"])
    if cycles:
        covered: dict[datetime, set[int]] = defaultdict(set)
        moments = list(set().union(*cycles.values()))
        for chunk in _chunks(vm_ids):
            rows = Violation.objects.filter(first_detected__in=moments, vm_id__in=chunk)
            for vm_id, moment in rows.values_list("vm_id", "first_detected"):
                covered[moment].add(vm_id)
        for user_id, moments_seen in cycles.items():
            for moment in moments_seen:
                told[user_id] |= covered.get(moment, set())
    return told
