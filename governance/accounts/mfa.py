"""Second factor: TOTP devices, recovery codes, the per-session state and the lock-out.

A session is ``verified`` once a code was given, ``verify`` while a user with a device
still owes one, ``enrol`` while a user whose role requires a device has none, and
``none`` when nothing is asked. Wrong codes are counted from the audit trail (the
ledger of every try), so the lock-out needs no table of its own and an admin's reset
also lifts it.
"""

from __future__ import annotations

import secrets
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.models import Device

from governance.accounts.models import RecoveryCode, RecoveryCodeDevice, TOTPDevice, User
from governance.accounts.roles import roles_of
from governance.audit.models import AuditEvent
from governance.audit.services import audit_record

SESSION_KEY = "steward_mfa"
VERIFIED, VERIFY, ENROL, NONE = "verified", "verify", "enrol", "none"
RECOVERY_CODE_COUNT = 10

FAILED = "user.mfa_failed"
# Any of these ends a run of wrong codes, as a good password ends one for axes.
_SUCCESSES = (
    "user.mfa_verified",
    "user.mfa_enabled",
    "user.mfa_recovery_codes_regenerated",
    "user.mfa_removed",
    "user.mfa_reset",
)


class MfaLockedError(Exception):
    """Too many wrong codes lately; no code is checked until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True)
class MfaStatus:
    """What the profile page shows: a confirmed device, codes left, whether it is required."""

    enabled: bool
    required: bool
    recovery_codes_left: int


def recovery_code_new() -> str:
    """Eight base32 characters (40 bits), as django-otp made them, so older codes still fit."""
    return b32encode(secrets.token_bytes(5)).decode().lower()


def mfa_required(user: User) -> bool:
    return bool({role.value for role in roles_of(user)} & set(settings.MFA_REQUIRED_ROLES))


def mfa_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def mfa_status(user: User) -> MfaStatus:
    return MfaStatus(
        enabled=mfa_device(user) is not None,
        required=mfa_required(user),
        recovery_codes_left=RecoveryCode.objects.filter(device__user=user).count(),
    )


def mfa_state_for(user: User) -> str:
    if mfa_device(user) is not None:
        return VERIFY
    return ENROL if mfa_required(user) else NONE


def session_mfa_start(request: HttpRequest, user: User) -> None:
    """Decide at sign-in what the session owes, so later requests ask nothing of the database."""
    request.session[SESSION_KEY] = mfa_state_for(user)


def session_mfa_state(request: HttpRequest) -> str:
    """The session's state; a verified session whose device was reset is decided again."""
    state = request.session.get(SESSION_KEY)
    if state == VERIFIED and not request.user.is_verified():
        state = None
    if state is None:
        state = mfa_state_for(request.user)
        request.session[SESSION_KEY] = state
    return state


def session_owes_factor(session: Any) -> bool:
    """Whether a session stands between password and second factor (websockets ask this)."""
    return session is not None and session.get(SESSION_KEY) in (VERIFY, ENROL)


def session_mfa_verified(request: HttpRequest, device: Device) -> None:
    """Mark the session verified under a new session id (no fixation across the factor)."""
    request.session.cycle_key()
    otp_login(request, device)
    request.session[SESSION_KEY] = VERIFIED


def mfa_locked_until(user: User) -> datetime | None:
    """End of the lock-out, if the user gave LOGIN_FAILURE_LIMIT wrong codes in the window."""
    window = settings.AXES_COOLOFF_TIME
    recent = AuditEvent.objects.filter(
        target_content_type=ContentType.objects.get_for_model(User),
        target_id=str(user.pk),
        action__in=(FAILED, *_SUCCESSES),
        created_at__gte=timezone.now() - window,
    ).values_list("action", "created_at")
    failures: list[datetime] = []
    for action, created_at in recent.order_by("-sequence"):
        if action != FAILED:
            break
        failures.append(created_at)
    limit = settings.AXES_FAILURE_LIMIT
    return failures[limit - 1] + window if len(failures) >= limit else None


def _check_code(user: User, code: str, *, device: TOTPDevice | None = None) -> Device | None:
    """The device that accepts ``code`` (TOTP, then a recovery code), recording a miss.

    Runs in the caller's transaction with the user row locked, so parallel guesses are
    counted one after another. Raises ``MfaLockedError`` without checking while locked.
    """
    if (until := mfa_locked_until(user)) is not None:
        raise MfaLockedError(until)
    code = "".join(code.split()).lower()
    devices: list[Device] = [device] if device else list(user.totp_devices.filter(confirmed=True))
    if device is None:
        devices += list(RecoveryCodeDevice.objects.filter(user=user))
    for candidate in devices:
        if candidate.verify_token(code):
            return candidate
    audit_record(actor=user, action=FAILED, target=user)
    if (until := mfa_locked_until(user)) is not None:
        audit_record(
            actor=user, action="user.mfa_locked", target=user, after={"until": until.isoformat()}
        )
    return None


def _locked_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def mfa_verify(*, user: User, code: str) -> Device | None:
    """Check the second factor at sign-in; the accepting device, or None (audited)."""
    with transaction.atomic():
        user = _locked_user(user)
        device = _check_code(user, code)
        if device is not None:
            method = "recovery_code" if isinstance(device, RecoveryCodeDevice) else "totp"
            audit_record(
                actor=user, action="user.mfa_verified", target=user, after={"method": method}
            )
    return device


def mfa_enrol_start(*, user: User) -> TOTPDevice:
    """The pending device to show as a QR code; kept until confirmed so a reload shows the same.

    Not audited: an unconfirmed device changes nothing about how the user signs in.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=False)


def _recovery_codes_replace(user: User) -> list[str]:
    # The device stays (only its codes change): a session verified by a recovery code
    # stays verified.
    device = RecoveryCodeDevice.objects.filter(user=user).first()
    if device is None:
        device = RecoveryCodeDevice.objects.create(user=user, name="Recovery codes")
    codes = [recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    device.codes_replace(codes)
    return codes


def mfa_enrol_confirm(*, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the pending device with a code from it; the new recovery codes, or None."""
    with transaction.atomic():
        user = _locked_user(user)
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        if _check_code(user, code, device=device) is None:
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _recovery_codes_replace(user)
        audit_record(actor=user, action="user.mfa_enabled", target=user)
    return codes


def mfa_recovery_codes_regenerate(*, user: User, code: str) -> list[str] | None:
    """New recovery codes (the old ones stop working) against a current code, or None."""
    with transaction.atomic():
        user = _locked_user(user)
        if _check_code(user, code) is None:
            return None
        codes = _recovery_codes_replace(user)
        audit_record(actor=user, action="user.mfa_recovery_codes_regenerated", target=user)
    return codes


def _devices_delete(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCodeDevice.objects.filter(user=user).delete()


def mfa_remove(*, user: User, code: str) -> bool:
    """Remove one's own second factor against a current code; refused if the role needs it."""
    if mfa_required(user):
        raise ValidationError("Your role requires a second factor; it cannot be removed.")
    with transaction.atomic():
        user = _locked_user(user)
        if _check_code(user, code) is None:
            return False
        _devices_delete(user)
        audit_record(actor=user, action="user.mfa_removed", target=user)
    return True


def mfa_reset(*, actor: User, user: User) -> None:
    """An admin clears another user's factor (lost phone); they enrol again at next sign-in.

    Nobody resets their own: that would turn a stolen password into a way around the
    factor. Their own goes through ``mfa_remove``, which asks for a code.
    """
    if actor.pk == user.pk:
        raise PermissionDenied("Use your profile, with a current code, to change your own factor.")
    with transaction.atomic():
        user = _locked_user(user)
        had_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        _devices_delete(user)
        audit_record(
            actor=actor,
            action="user.mfa_reset",
            target=user,
            before={"enabled": had_device},
            after={"enabled": False},
        )


def lock_message(error: MfaLockedError) -> str:
    minutes = max(1, int((error.until - timezone.now()) / timedelta(minutes=1)) + 1)
    return f"Too many wrong codes. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
