"""The buttons of the VM page's ownership section, the inbox and the claim page.

Every view is a POST that finds its object through the permission door (an invisible
VM, claim or transfer answers 404), calls one service and goes back with a message:
a refused move (``ValidationError``) changes nothing and says why. A claim looks its VM
up with ``claimable_vm_get`` so it never reveals a VM the claimant cannot see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from governance.core.permissions import get_object_or_404_for
from governance.ownership import services, services_workflows
from governance.ownership.forms import (
    AssignForm,
    ClaimForm,
    ClassificationForm,
    LeaseExtensionForm,
    ReasonForm,
    TransferOfferForm,
)
from governance.ownership.models import Claim, Transfer
from governance.ownership.panel import ASSIGN_PERMISSION, ASSIGN_PREFIX, CLASSIFY_PERMISSION
from governance.ownership.selectors import claimable_vm_get
from inventory.models import VirtualMachine


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """To the page the form came from (``next``, same host only), else ``default``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _vm_url(vm_id: int) -> str:
    return reverse("inventory:vm", args=[vm_id])


def _visible_vm(request: HttpRequest, pk: int) -> VirtualMachine:
    return get_object_or_404_for(request.user, VirtualMachine.objects.all(), pk=pk)


def _errors(request: HttpRequest, error: ValidationError | forms.Form) -> None:
    if isinstance(error, forms.Form):
        for name, errors in error.errors.items():
            label = "" if name == "__all__" else f"{error.fields[name].label or name}: "
            for message in errors:
                messages.error(request, f"{label}{message}".capitalize())
        return
    for message in error.messages:
        messages.error(request, message)


def _run(request: HttpRequest, action: Callable[[], Any], *, done: str) -> bool:
    """Call the service; a message either way. Whether it succeeded."""
    try:
        action()
    except ValidationError as error:
        _errors(request, error)
        return False
    messages.success(request, done)
    return True


def _submit(
    request: HttpRequest,
    form: forms.Form,
    call: Callable[[dict[str, Any]], Any],
    done: Callable[[dict[str, Any]], str],
    *,
    back: str,
) -> HttpResponse:
    """Validate ``form``, call the service with its data, go ``back`` (or to ``next``)."""
    if form.is_valid():
        data = form.cleaned_data
        _run(request, lambda: call(data), done=done(data))
    else:
        _errors(request, form)
    return _back(request, back)


@login_required
@require_POST
def vm_claim_view(request: HttpRequest, pk: int) -> HttpResponse:
    vm = claimable_vm_get(user=request.user, pk=pk)
    return _submit(
        request,
        ClaimForm(request.POST, user=request.user),
        lambda data: services_workflows.claim_create(
            actor=request.user, vm=vm, team=data["team"], reason=data["reason"]
        ),
        lambda data: f"You claimed VM {vm}; a manager of {data['team']} decides.",
        back=reverse("ownership:claimable"),
    )


@login_required
@require_POST
def vm_transfer_offer_view(request: HttpRequest, pk: int) -> HttpResponse:
    vm = _visible_vm(request, pk)
    return _submit(
        request,
        TransferOfferForm(request.POST),
        lambda data: services_workflows.transfer_offer(actor=request.user, vm=vm, **data),
        lambda data: f"You offered VM {vm} to {data['to_user'].get_username()}.",
        back=_vm_url(vm.pk),
    )


@login_required
@require_POST
def vm_lease_extension_view(request: HttpRequest, pk: int) -> HttpResponse:
    vm = _visible_vm(request, pk)
    return _submit(
        request,
        LeaseExtensionForm(request.POST),
        lambda data: services.lease_extend_request(actor=request.user, vm=vm, **data),
        lambda data: "Your request was sent to the team's managers.",
        back=_vm_url(vm.pk),
    )


@login_required
@require_POST
def vm_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    vm = _visible_vm(request, pk)
    if not request.user.has_perm(ASSIGN_PERMISSION):
        raise PermissionDenied
    form = AssignForm(request.POST, prefix=ASSIGN_PREFIX)
    return _submit(
        request,
        form,
        lambda data: services.ownership_assign(actor=request.user, vm=vm, **form.service_kwargs()),
        lambda data: f"Ownership of VM {vm} saved.",
        back=_vm_url(vm.pk),
    )


@login_required
@require_POST
def vm_classify_view(request: HttpRequest, pk: int) -> HttpResponse:
    vm = _visible_vm(request, pk)
    if not request.user.has_perm(CLASSIFY_PERMISSION):
        raise PermissionDenied
    return _submit(
        request,
        ClassificationForm(request.POST),
        lambda data: services.classification_set(actor=request.user, vm=vm, **data),
        lambda data: f"VM {vm} is now classified {data['classification']}.",
        back=_vm_url(vm.pk),
    )


_CLAIM_STEPS: dict[str, tuple[Callable[..., Any], bool, str]] = {
    # step: (service, takes a comment, message)
    "approve": (services_workflows.claim_approve, True, "Claim approved."),
    "reject": (services_workflows.claim_reject, True, "Claim rejected."),
    "cancel": (services_workflows.claim_cancel, False, "Claim withdrawn."),
}
_TRANSFER_STEPS: dict[str, tuple[Callable[..., Any], bool, str]] = {
    "accept": (services_workflows.transfer_accept, False, "Accepted; a manager approves next."),
    "approve": (services_workflows.transfer_approve, True, "Transfer approved."),
    "reject": (services_workflows.transfer_reject, True, "Transfer rejected."),
    "cancel": (services_workflows.transfer_cancel, False, "Transfer withdrawn."),
}


def _step(
    request: HttpRequest,
    obj: Claim | Transfer,
    steps: dict[str, tuple[Callable[..., Any], bool, str]],
    step: str,
) -> HttpResponse:
    if step not in steps:
        raise Http404("No such step.")
    service, takes_comment, done = steps[step]
    kwargs: dict[str, Any] = {"actor": request.user, type(obj).__name__.lower(): obj}
    if takes_comment:
        form = ReasonForm(request.POST)
        kwargs["comment"] = form.cleaned_data["reason"] if form.is_valid() else ""
    _run(request, lambda: service(**kwargs), done=done)
    return _back(request, reverse("ownership:inbox"))


@login_required
@require_POST
def claim_step_view(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    claim = get_object_or_404_for(request.user, Claim.objects.select_related("vm"), pk=pk)
    return _step(request, claim, _CLAIM_STEPS, step)


@login_required
@require_POST
def transfer_step_view(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    transfer = get_object_or_404_for(request.user, Transfer.objects.select_related("vm"), pk=pk)
    return _step(request, transfer, _TRANSFER_STEPS, step)


__all__ = [
    "claim_step_view",
    "transfer_step_view",
    "vm_assign_view",
    "vm_claim_view",
    "vm_classify_view",
    "vm_lease_extension_view",
    "vm_transfer_offer_view",
]
