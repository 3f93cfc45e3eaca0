"""Pages of the second factor: the sign-in step, enrolment, and one's own settings.

The gate (``MfaGateMiddleware``) sends a half-signed-in session here; these views are
exempt from it, so each one checks that the session is the one it expects.
"""

from __future__ import annotations

from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from governance.accounts import mfa
from governance.accounts.forms import MfaCodeForm, MfaResetForm


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url("core:home")


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The second sign-in step: a TOTP or recovery code; wrong codes lock the user out."""
    if mfa.session_mfa_state(request) != mfa.VERIFY:
        return redirect(_next_url(request))
    form = MfaCodeForm(request.POST or None, initial={"next": _next_url(request)})
    status = 200
    if form.is_valid():
        try:
            device = mfa.mfa_verify(user=request.user, code=form.cleaned_data["code"])
        except mfa.MfaLockedError as locked:
            form.add_error(None, mfa.lock_message(locked))
            status = 429
        else:
            if device is not None:
                mfa.session_mfa_verified(request, device)
                return redirect(_next_url(request))
            form.add_error("code", "That code is not valid.")
    return render(request, "accounts/mfa_verify.html", {"form": form}, status=status)


def _qr_svg(url: str) -> str:
    # segno writes the SVG itself from the otpauth address: no image library, no service.
    return mark_safe(segno.make(url, error="m").svg_inline(scale=4, border=2))  # noqa: S308


@login_required
def enrol(request: HttpRequest) -> HttpResponse:
    """Show a new secret (QR code and text) and confirm it with a code from the app."""
    if mfa.mfa_device(request.user) is not None:
        messages.info(request, "Your second factor is already set up.")
        return redirect("accounts:profile")
    device = mfa.mfa_enrol_start(user=request.user)
    form = MfaCodeForm(request.POST or None, initial={"next": _next_url(request)})
    status = 200
    if form.is_valid():
        try:
            codes = mfa.mfa_enrol_confirm(
                user=request.user, device=device, code=form.cleaned_data["code"]
            )
        except mfa.MfaLockedError as locked:
            form.add_error(None, mfa.lock_message(locked))
            status = 429
        else:
            if codes is not None:
                device.refresh_from_db()
                mfa.session_mfa_verified(request, device)
                context = {"codes": codes, "next": _next_url(request)}
                return render(request, "accounts/mfa_codes.html", context)
            form.add_error("code", "That code is not valid.")
    secret = b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "required": mfa.mfa_required(request.user),
    }
    return render(request, "accounts/mfa_enrol.html", context, status=status)


def _code_or_error(request: HttpRequest) -> str | None:
    form = MfaCodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a current code.")
        return None
    return form.cleaned_data["code"]


@require_POST
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once, against a current code."""
    if (code := _code_or_error(request)) is None:
        return redirect("accounts:profile")
    try:
        codes = mfa.mfa_recovery_codes_regenerate(user=request.user, code=code)
    except mfa.MfaLockedError as locked:
        messages.error(request, mfa.lock_message(locked))
        return redirect("accounts:profile")
    if codes is None:
        messages.error(request, "That code is not valid; your recovery codes are unchanged.")
        return redirect("accounts:profile")
    return render(request, "accounts/mfa_codes.html", {"codes": codes, "next": ""})


@require_POST
@login_required
def remove(request: HttpRequest) -> HttpResponse:
    """Remove one's own second factor against a current code, unless the role requires it."""
    if (code := _code_or_error(request)) is None:
        return redirect("accounts:profile")
    try:
        removed = mfa.mfa_remove(user=request.user, code=code)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    except mfa.MfaLockedError as locked:
        messages.error(request, mfa.lock_message(locked))
    else:
        if removed:
            request.session[mfa.SESSION_KEY] = mfa.NONE
            messages.success(request, "Your second factor is removed.")
        else:
            messages.error(request, "That code is not valid; your second factor stays.")
    return redirect("accounts:profile")


@require_POST
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def reset(request: HttpRequest) -> HttpResponse:
    """An admin clears another user's second factor (lost device); audited."""
    form = MfaResetForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a user.")
        return redirect("accounts:people")
    user = form.cleaned_data["user"]
    # One's own factor is refused (PermissionDenied, 403): it changes on the profile, with a code.
    mfa.mfa_reset(actor=request.user, user=user)
    messages.success(request, f"Second factor of {user.get_username()} reset.")
    return redirect("accounts:people")
