"""The admins' approval-chain editor: a chain's scope and thresholds, and its steps.

Only admins reach these pages (403 for everyone else; chains are not secret, but they
are configuration). The chain and its steps are saved together by ``chain_save`` in one
transaction with one audit event, so a half-saved chain never decides a request.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance.accounts.roles import Role, has_role
from governance.approvals.chain_editor import chain_save
from governance.approvals.models import ApprovalChain, ApprovalStep

STEP_FIELDS = ("name", "approver_rule", "role", "group", "team", "mode", "required")


class ChainForm(forms.ModelForm):
    class Meta:
        model = ApprovalChain
        fields = (
            "name",
            "description",
            "kind",
            "enabled",
            "priority",
            "classification",
            "cluster",
            "cross_cluster",
            "auto_approve",
            "auto_max_cores",
            "auto_max_memory_mib",
            "auto_max_disk_gib",
            "auto_max_classification",
            "expire_after_hours",
        )
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "priority": "Among chains matching a request, the lowest number wins.",
            "cross_cluster": "Only moves or copies to another cluster (yes), only within one (no).",
            "auto_approve": "Skip the steps when the request is within every threshold below. "
            "Sizes are what the request really produces or acts on: the VM's own cores, memory "
            "and disks for a request on a VM, the template's disks for a new VM from a "
            "template; a size not known (an image import's disk) is never within a threshold.",
            "expire_after_hours": "A request nobody decides in this time expires; empty: never.",
        }


class StepForm(forms.ModelForm):
    role = forms.ChoiceField(choices=[("", "—"), *Role.choices], required=False)

    class Meta:
        model = ApprovalStep
        fields = STEP_FIELDS

    def clean(self) -> dict:
        data = super().clean()
        rule, mode = data.get("approver_rule"), data.get("mode")
        if rule == "role" and not data.get("role"):
            self.add_error("role", "Name the role whose holders approve.")
        if rule == "group" and not data.get("group"):
            self.add_error("group", "Choose the group whose members approve.")
        if mode == "any_of" and data.get("required", 1) != 1:
            self.add_error("required", "An any-of step needs exactly one approval.")
        return data


StepFormSet = forms.inlineformset_factory(
    ApprovalChain,
    ApprovalStep,
    form=StepForm,
    fields=STEP_FIELDS,
    extra=2,
    can_delete=True,
)


def _admin_only(request: HttpRequest) -> None:
    if not has_role(request.user, Role.ADMIN):
        raise PermissionDenied


@login_required
def chain_list_view(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    chains = ApprovalChain.objects.select_related("cluster").prefetch_related("steps")
    return render(request, "approvals/chain_list.html", {"chains": chains})


@login_required
def chain_edit_view(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _admin_only(request)
    chain = get_object_or_404(ApprovalChain, pk=pk) if pk is not None else None
    data = request.POST if request.method == "POST" else None
    form = ChainForm(data, instance=chain)
    steps = StepFormSet(data, instance=chain or ApprovalChain(), prefix="steps")
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        saved = chain_save(actor=request.user, form=form, steps=steps)
        messages.success(request, f"Chain {saved.name} saved.")
        return redirect("approvals:chains")
    return render(
        request,
        "approvals/chain_edit.html",
        {"form": form, "steps": steps, "chain": chain},
        status=400 if form.is_bound and (form.errors or steps.total_error_count()) else 200,
    )
