"""The one error type handlers raise; the server turns it into PVE's error contract."""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An HTTP error as PVE sends it.

    ``message`` becomes the reason phrase (first line only) and, from PVE 8.3 on, the JSON
    ``message`` (with a trailing newline); ``errors`` adds the per-parameter map. ``empty_body``
    marks auth-layer failures, which PVE sends without any JSON and after a delay.
    """

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, str] | None = None,
        *,
        empty_body: bool = False,
        delay: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors) if errors else None
        self.empty_body = empty_body
        self.delay = delay


def param_error(errors: Mapping[str, str]) -> ApiError:
    """400 ``Parameter verification failed.`` (PVE's ``raise_param_exc``)."""
    return ApiError(400, "Parameter verification failed.", errors)


def perm_error(path: str | None = None, priv: str | None = None) -> ApiError:
    """403 as ``raise_perm_exc`` words it: with ``(path, priv)`` detail when known."""
    if path is None:
        return ApiError(403, "Permission check failed")
    return ApiError(403, f"Permission check failed ({path}, {priv})")
