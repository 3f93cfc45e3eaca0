"""Helpers of the second-factor tests: a frozen TOTP clock and codes computed at it."""

from __future__ import annotations

from binascii import unhexlify

from django_otp import oath

from governance.accounts import mfa
from governance.accounts.models import TOTPDevice

# A fixed moment (2026-01-01 00:00:00 UTC); codes are computed and checked at it.
FROZEN = 1_767_225_600


class Clock:
    """The time django-otp's TOTP sees; tests move it a step at a time."""

    def __init__(self) -> None:
        self.now = FROZEN

    def __call__(self) -> int:
        return self.now

    def step(self, steps: int = 1) -> None:
        self.now += 30 * steps


def code_for(device: TOTPDevice) -> str:
    """The code the user's app shows now (on the frozen clock), as django-otp computes it."""
    return f"{oath.totp(unhexlify(device.key.encode())):06d}"


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    """A user with a confirmed device and recovery codes, as after enrolment."""
    device = mfa.mfa_enrol_start(user=user)
    codes = mfa.mfa_enrol_confirm(user=user, device=device, code=code_for(device))
    assert codes is not None
    device.refresh_from_db()
    return device, codes
