"""Team quota pages: every team's use against its limits, and an admin's editor per team.

Admins, security officers and auditors read every team's quota (the model-wide view
right); everyone else reads the quotas of the teams they belong to (the list shows only
those; another team's page answers 404); only admins change a quota (403 for readers).
A team's page shows its limits for all clusters and its per-cluster limits, each against
the use it covers; the editor sets either (``?cluster=<name>`` opens a cluster's).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance.accounts.models import Team
from governance.approvals.models import LIMITS, TeamQuota
from governance.approvals.quota_usage import Usage, quota_of, team_usage, teams_usage
from governance.approvals.services.quota import quota_set
from governance.audit.models import AuditEvent
from inventory.models import Cluster

#: How many past changes the team's quota page lists (the audit log has them all).
HISTORY_ROWS = 20


class QuotaForm(forms.Form):
    """The cluster they apply to (empty: all) and the four limits; empty means unlimited."""

    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label="All clusters",
        help_text="A request must fit both the team's limits for all clusters and those "
        "of the cluster it lands on.",
    )

    max_vms = forms.IntegerField(label="Max VMs", min_value=0, required=False)
    max_cores = forms.IntegerField(label="Max vCPU cores", min_value=0, required=False)
    max_memory_mib = forms.IntegerField(label="Max memory (MiB)", min_value=0, required=False)
    max_disk_gib = forms.IntegerField(label="Max disk (GiB)", min_value=0, required=False)


def _rows(usage: Usage, quota: TeamQuota | None) -> list[dict]:
    """One row per limit: what the team owns, what its open requests reserve, the limit."""
    limits = quota.limits() if quota is not None else dict.fromkeys(LIMITS)
    return [
        {
            "name": words,
            "owned": usage.owned.amount(limit),
            "reserved": usage.reserved.amount(limit),
            "total": usage.total.amount(limit),
            "limit": limits[limit],
            "over": limits[limit] is not None and usage.total.exceeds(limit, limits[limit]),
        }
        for limit, words in LIMITS.items()
    ]


@login_required
def quota_list_view(request: HttpRequest) -> HttpResponse:
    teams = list(_readable_teams(request).order_by("name"))
    quotas = {q.team_id: q for q in TeamQuota.objects.filter(cluster=None)}
    usage = teams_usage([team.pk for team in teams])
    rows = [{"team": team, "limits": _rows(usage[team.pk], quotas.get(team.pk))} for team in teams]
    return render(
        request,
        "approvals/quota_list.html",
        {
            "rows": rows,
            "headers": list(LIMITS.values()),
            "can_edit": request.user.has_perm("approvals.change_teamquota"),
        },
    )


def _history(team: Team) -> list[dict]:
    """The team's latest quota changes from the audit log: when, who, where, each move."""
    ids = [str(pk) for pk in TeamQuota.objects.filter(team=team).values_list("pk", flat=True)]
    events = AuditEvent.objects.filter(
        target_content_type=ContentType.objects.get_for_model(TeamQuota),
        target_id__in=ids,
        action="approvals.quota.set",
    ).select_related("actor")[:HISTORY_ROWS]
    rows = []
    for event in events:
        before, after = event.before or {}, event.after or {}
        moves = [
            f"{words}: {_shown(before.get(limit))} → {_shown(after.get(limit))}"
            for limit, words in LIMITS.items()
            if before.get(limit) != after.get(limit)
        ]
        where = after.get("cluster") or "all clusters"
        rows.append(
            {"at": event.created_at, "actor": event.actor_repr, "where": where, "moves": moves}
        )
    return rows


def _shown(value: int | None) -> str:
    return "no limit" if value is None else str(value)


def _readable_teams(request: HttpRequest) -> QuerySet[Team]:
    if request.user.has_perm("approvals.view_teamquota"):
        return Team.objects.all()
    return Team.objects.filter(memberships__user=request.user)


def _readable_team(request: HttpRequest, slug: str) -> Team:
    return get_object_or_404(_readable_teams(request), slug=slug)


def _cluster_rows(team: Team) -> list[dict]:
    quotas = TeamQuota.objects.filter(team=team, cluster__isnull=False).select_related("cluster")
    return [
        {
            "cluster": quota.cluster,
            "limits": _rows(team_usage(team.pk, cluster_id=quota.cluster_id), quota),
        }
        for quota in quotas.order_by("cluster__name")
    ]


@login_required
def quota_edit_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = _readable_team(request, slug)
    can_edit = request.user.has_perm("approvals.change_teamquota")
    if request.method == "POST" and not can_edit:
        raise PermissionDenied("Only admins change team quotas.")
    cluster = Cluster.objects.filter(name=request.GET.get("cluster") or "").first()
    quota = quota_of(team.pk)
    shown = quota_of(team.pk, cluster.pk) if cluster is not None else quota
    form = QuotaForm(
        request.POST if request.method == "POST" else None,
        initial={"cluster": cluster, **(shown.limits() if shown is not None else {})},
    )
    if request.method == "POST" and form.is_valid():
        limits = {name: form.cleaned_data[name] for name in LIMITS}
        chosen = form.cleaned_data["cluster"]
        try:
            quota_set(actor=request.user, team=team, limits=limits, cluster=chosen)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            where = f" on {chosen.name}" if chosen is not None else ""
            messages.success(request, f"Quota of {team.name}{where} saved.")
            return redirect("approvals:quota", slug=team.slug)
    return render(
        request,
        "approvals/quota_edit.html",
        {
            "team": team,
            "form": form if can_edit else None,
            "rows": _rows(team_usage(team.pk), quota),
            "cluster_rows": _cluster_rows(team),
            "headers": list(LIMITS.values()),
            "quota": quota,
            # The limits' history names who changed them: for the quota readers only.
            "history": _history(team)
            if request.user.has_perm("approvals.view_teamquota")
            else None,
        },
        status=400 if form.is_bound and form.errors else 200,
    )
