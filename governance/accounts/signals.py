"""Sign-in events: audited; the session's absolute clock starts and its second factor is set."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from governance.accounts import mfa, services
from governance.accounts.middleware import session_started


def _on_login(sender: Any, *, request: HttpRequest | None, user: Any, **_: Any) -> None:
    if request is not None:
        session_started(request)
        mfa.session_mfa_start(request, user)
    services.login_record(user=user)


def _on_logout(sender: Any, *, request: HttpRequest | None, user: Any, **_: Any) -> None:
    if user is not None:
        services.logout_record(user=user)


def _on_login_failed(
    sender: Any, *, credentials: dict, request: HttpRequest | None = None, **_: Any
) -> None:
    services.login_failure_record(username=str(credentials.get("username", "")))


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="steward_audit_login")
    user_logged_out.connect(_on_logout, dispatch_uid="steward_audit_logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="steward_audit_login_failed")
