"""Policy pages: list, detail with version history, the editor with its mandatory dry run,
one stored version, and YAML export and import.

Admins and security officers edit (``policy.change_policy`` / ``add_policy``); auditors
read; everyone else finds no policy (404). The editor never saves on the first post:
"Preview" runs the dry run and returns a signed token for exactly that document
(``policy.preview``); "Save" is accepted only with a token for the same document and
the same stored version, so every change is seen before it is made.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from governance.core.permissions import get_object_or_404_for
from governance.core.tables import Column, build_table
from policy import services, yaml_io
from policy.forms import PolicyForm, PolicyImportForm, parameter_reference, parameters_as_yaml
from policy.lists import policy_list, policy_versions
from policy.models import Policy
from policy.preview import preview_matches, preview_token

VIEW = "policy.view_policy"
ADD = "policy.add_policy"
CHANGE = "policy.change_policy"


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


@login_required
def policy_list_view(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW)
    queryset = policy_list(user=request.user).annotate(
        open_violations=Count("violations", filter=Q(violations__resolved_at__isnull=True))
    )
    table = build_table(
        request=request,
        queryset=queryset,
        columns=[
            Column("Name", "name", sort_key="name"),
            Column("Kind", "get_kind_display", sort_key="kind"),
            Column("Mode", "get_mode_display", sort_key="mode"),
            Column("Enabled", "enabled", sort_key="enabled"),
            Column("Version", "version", numeric=True),
            Column("Open violations", "open_violations", sort_key="open", numeric=True),
            Column("Updated", "updated_at", sort_key="updated"),
        ],
        sorts={
            "name": "name",
            "kind": ("kind", "name"),
            "mode": ("mode", "name"),
            "enabled": ("-enabled", "name"),
            "open": ("-open_violations", "name"),
            "updated": ("-updated_at",),
        },
        default_sort="name",
        page_size=50,
    )
    return render(
        request,
        "policy/policy_list.html",
        {"table": table, "can_add": request.user.has_perm(ADD)},
    )


@login_required
def policy_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404_for(request.user, Policy.objects.all(), pk=pk)
    open_count = policy.violations.filter(resolved_at__isnull=True).count()
    return render(
        request,
        "policy/policy_detail.html",
        {
            "policy": policy,
            "parameters_yaml": parameters_as_yaml(policy.parameters),
            "versions": policy_versions(policy=policy),
            "open_count": open_count,
            "can_change": request.user.has_perm(CHANGE),
        },
    )


@login_required
def policy_version_view(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    policy = get_object_or_404_for(request.user, Policy.objects.all(), pk=pk)
    row = get_object_or_404(policy_versions(policy=policy), version=version)
    return render(
        request,
        "policy/policy_version.html",
        {"policy": policy, "row": row, "document_yaml": yaml_io.document_dump(row.document)},
    )


def _editor(
    request: HttpRequest, *, policy: Policy | None, form: PolicyForm, status: int = 200, **extra
) -> HttpResponse:
    return render(
        request,
        "policy/policy_edit.html",
        {"policy": policy, "form": form, "reference": parameter_reference(), **extra},
        status=status,
    )


def _form_errors_from(form: PolicyForm, error: ValidationError) -> None:
    """Put the validator's messages on the editor: on a field when it names one."""
    fields = {
        "name": "name",
        "description": "description",
        "kind": "kind",
        "mode": "mode",
        "enabled": "enabled",
        "parameters": "parameters",
        "scope": None,
    }
    if hasattr(error, "error_dict"):
        for key, errors in error.message_dict.items():
            target = fields.get(key.split(".")[0])
            if key.startswith("scope.") and f"scope_{key.split('.', 1)[1]}" in form.fields:
                target = f"scope_{key.split('.', 1)[1]}"
            for message in errors:
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _policy_editor(request: HttpRequest, *, policy: Policy | None) -> HttpResponse:
    if request.method != "POST":
        initial = PolicyForm.initial_from(policy) if policy else None
        return _editor(request, policy=policy, form=PolicyForm(initial=initial))
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _editor(request, policy=policy, form=form, status=400)
    document = form.document()
    policy_id = policy.pk if policy else None
    base_version = policy.version if policy else 0
    token = request.POST.get("preview_token", "")
    wants_save = request.POST.get("action") == "save"
    if wants_save and preview_matches(
        token, document=document, policy_id=policy_id, base_version=base_version
    ):
        try:
            saved = services.policy_save(
                actor=request.user,
                document=document,
                policy=policy,
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as error:
            _form_errors_from(form, error)
            return _editor(request, policy=policy, form=form, status=400)
        if policy is not None and saved.version == base_version:
            messages.info(request, "Nothing changed; the policy stays at its current version.")
        else:
            messages.success(request, f"Saved {saved.name}, version {saved.version}.")
        return redirect("policy:policy", pk=saved.pk)
    try:
        dry_run = services.policy_dry_run(document=document, policy=policy)
    except ValidationError as error:
        _form_errors_from(form, error)
        return _editor(request, policy=policy, form=form, status=400)
    if wants_save:
        messages.warning(
            request,
            "The policy changed since its preview, or the preview expired: "
            "check this preview and save again.",
        )
    return _editor(
        request,
        policy=policy,
        form=form,
        dry_run=dry_run,
        preview_token=preview_token(
            document=document, policy_id=policy_id, base_version=base_version
        ),
        previewed_at=timezone.now(),
    )


@login_required
def policy_create_view(request: HttpRequest) -> HttpResponse:
    _require(request, ADD)
    return _policy_editor(request, policy=None)


@login_required
def policy_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404_for(request.user, Policy.objects.all(), "change", pk=pk)
    return _policy_editor(request, policy=policy)


@login_required
@require_GET
def policy_export_view(request: HttpRequest) -> HttpResponse:
    """Every policy as one YAML file (the import format), for version control."""
    _require(request, VIEW)
    text = yaml_io.policies_dump(policy_list(user=request.user).order_by("name"))
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="steward-policies-{stamp}.yaml"'
    return response


@login_required
def policy_import_view(request: HttpRequest) -> HttpResponse:
    """Upload -> parse and validate -> dry run of every changed policy -> confirm -> save.

    The confirmation carries the file's text back with a preview token over all its
    documents, so what is saved is exactly what was previewed.
    """
    _require(request, ADD)
    _require(request, CHANGE)
    context: dict[str, Any] = {"form": PolicyImportForm()}
    if request.method != "POST":
        return render(request, "policy/policy_import.html", context)
    if request.POST.get("action") == "save":
        return _import_save(request)
    form = PolicyImportForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, "policy/policy_import.html", context, status=400)
    text = form.cleaned_data["file"]
    try:
        plan = services.policy_import_plan(text=text)
    except ValidationError as error:
        context["errors"] = error.messages
        return render(request, "policy/policy_import.html", context, status=400)
    context.update(
        plan=plan,
        text=text,
        comment=form.cleaned_data["comment"],
        preview_token=preview_token(
            document={"import": text}, policy_id=None, base_version=plan.base_versions_key
        ),
    )
    return render(request, "policy/policy_import.html", context)


def _import_save(request: HttpRequest) -> HttpResponse:
    text = request.POST.get("text", "")
    comment = request.POST.get("comment", "")[:500]
    try:
        plan = services.policy_import_plan(text=text)
    except ValidationError as error:
        context = {"form": PolicyImportForm(), "errors": error.messages}
        return render(request, "policy/policy_import.html", context, status=400)
    if not preview_matches(
        request.POST.get("preview_token", ""),
        document={"import": text},
        policy_id=None,
        base_version=plan.base_versions_key,
    ):
        messages.warning(
            request, "Policies changed since the preview, or it expired: upload the file again."
        )
        return redirect("policy:import")
    try:
        saved = services.policy_import_apply(actor=request.user, plan=plan, comment=comment)
    except ValidationError as error:
        context = {"form": PolicyImportForm(), "errors": error.messages}
        return render(request, "policy/policy_import.html", context, status=400)
    messages.success(
        request, f"Imported {len(saved)} changed polic{'y' if len(saved) == 1 else 'ies'}."
    )
    return redirect("policy:policies")
