"""Users of Steward and the teams they belong to."""

from __future__ import annotations

from base64 import b32encode
from binascii import unhexlify
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django_otp.models import Device, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from governance.core.fields import EncryptedTextField


def _random_totp_key() -> str:
    return random_hex(20)


class User(AbstractUser):
    """A person who signs in to Steward; rights come from role groups and object permissions."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Team(models.Model):
    """A group of people who own VMs together; name and slug are unique."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="TeamMembership",
        related_name="teams",
        blank=True,
    )

    class Meta:
        ordering = ["name"]
        # The unique constraints on name and slug double as the ordering index.

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A user's place in a team; a user is in a team at most once, as member or manager."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    is_manager = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"],
                name="accounts_membership_unique_team_user",
                violation_error_message="This user is already in the team.",
            ),
        ]
        indexes = [models.Index(fields=["user", "team"], name="accounts_membership_user_idx")]

    def __str__(self) -> str:
        role = "manager" if self.is_manager else "member"
        return f"{self.user} ({role} of {self.team})"


class TOTPDevice(TimestampMixin, Device):
    """A user's authenticator app (RFC 6238, SHA-1, 6 digits, 30 s); the key is encrypted.

    django-otp's own TOTP model keeps the key in plain hex, so Steward defines its device on
    django-otp's abstract ``Device`` with the key in an ``EncryptedTextField``. A code is
    accepted once: ``last_t`` only moves forward. Wrong codes are throttled per user by
    ``governance.accounts.mfa`` (lock-out) rather than by django-otp's per-device back-off.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices"
    )

    key = EncryptedTextField(default=_random_totp_key, help_text="Hex secret, encrypted at rest.")
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    STEP = 30
    DIGITS = 6

    class Meta(Device.Meta):
        verbose_name = "TOTP device"
        ordering = ["user", "id"]
        indexes = [models.Index(fields=["user", "id"], name="accounts_totp_user_idx")]

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    @property
    def config_url(self) -> str:
        """The ``otpauth://`` address an authenticator app reads from the QR code."""
        label = quote(f"Steward:{self.user.get_username()}")
        secret = b32encode(self.bin_key).decode()
        return f"otpauth://totp/{label}?secret={secret}&issuer=Steward&digits=6&period=30"

    def verify_token(self, token: Any) -> bool:
        try:
            value = int(token)
        except (TypeError, ValueError):
            return False
        totp = TOTP(self.bin_key, self.STEP, 0, self.DIGITS, self.drift)
        if not totp.verify(value, self.tolerance, self.last_t + 1):
            return False
        self.last_t = totp.t()
        self.drift = totp.drift
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True
