"""Ownership rules: the list (readers), create and edit with a dry run, enable/disable.

"Dry run" renders the form again with what the rule would match now (all live VMs it
catches, the unowned ones a run would assign, the first few) and saves nothing. Saving
goes through the rule services, which refuse a rule that matches no VM unless the
admin says it is meant for VMs that do not exist yet.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from governance.core.permissions import restrict
from governance.ownership.forms import RuleForm
from governance.ownership.models import OwnershipRule
from governance.ownership.rules import (
    ownership_rule_create,
    ownership_rule_preview,
    ownership_rule_update,
)

READ_PERMISSION = "ownership.view_ownershiprule"
WRITE_PERMISSIONS = ("ownership.add_ownershiprule", "ownership.change_ownershiprule")


def _require(request: HttpRequest, *permissions: str) -> None:
    if not request.user.has_perms(permissions):
        raise PermissionDenied


@login_required
def rule_list_view(request: HttpRequest) -> HttpResponse:
    _require(request, READ_PERMISSION)
    rules = restrict(OwnershipRule.objects.select_related("cluster", "team", "owner"), request.user)
    return render(
        request,
        "ownership/rule_list.html",
        {
            "rules": list(rules.order_by("priority", "id")),
            "can_edit": request.user.has_perms(WRITE_PERMISSIONS),
        },
    )


def _form_page(request: HttpRequest, rule: OwnershipRule | None) -> HttpResponse:
    _require(request, READ_PERMISSION, *WRITE_PERMISSIONS)
    preview = None
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            try:
                if request.POST.get("action") == "preview":
                    preview = ownership_rule_preview(rule=form.unsaved_rule(rule))
                else:
                    saved = _save(request, form, rule)
                    messages.success(request, f"Rule {saved.name!r} saved.")
                    return redirect("ownership:rules")
            except ValidationError as error:
                _add_errors(form, error)
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule) if rule else None)
    return render(
        request, "ownership/rule_form.html", {"form": form, "rule": rule, "preview": preview}
    )


def _save(request: HttpRequest, form: RuleForm, rule: OwnershipRule | None) -> OwnershipRule:
    allow = form.cleaned_data["allow_unmatched"]
    if rule is None:
        return ownership_rule_create(
            actor=request.user, allow_unmatched=allow, **form.service_kwargs()
        )
    return ownership_rule_update(
        actor=request.user, rule=rule, allow_unmatched=allow, **form.service_kwargs()
    )


def _add_errors(form: RuleForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(None if field not in form.fields else field, messages_)
    else:
        form.add_error(None, error.messages)


@login_required
def rule_create_view(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@login_required
def rule_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, READ_PERMISSION)
    rule = get_object_or_404(
        restrict(OwnershipRule.objects.select_related("cluster", "team", "owner"), request.user),
        pk=pk,
    )
    return _form_page(request, rule)


@login_required
@require_POST
def rule_toggle_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable a disabled rule or disable an enabled one (disabling never needs a match)."""
    _require(request, READ_PERMISSION, *WRITE_PERMISSIONS)
    rule = get_object_or_404(restrict(OwnershipRule.objects.all(), request.user), pk=pk)
    ownership_rule_update(actor=request.user, rule=rule, enabled=not rule.enabled)
    state = "disabled" if rule.enabled else "enabled"
    messages.success(request, f"Rule {rule.name!r} {state}.")
    return redirect("ownership:rules")
