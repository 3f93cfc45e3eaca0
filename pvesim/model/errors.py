"""The one error the model raises; the API layer turns it into a PVE error response."""

from __future__ import annotations


class ModelError(Exception):
    """A PVE-shaped failure: ``status`` (500 for handler ``die``, 400 for parameter errors),
    the message PVE prints, and per-parameter ``errors`` for 400s."""

    def __init__(self, message: str, *, status: int = 500, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors

    @classmethod
    def param(cls, name: str, message: str) -> ModelError:
        """``raise_param_exc``: 400 ``Parameter verification failed.`` with one error."""
        return cls("Parameter verification failed.", status=400, errors={name: message})


class WorkerError(ModelError):
    """A failure PVE meets only inside the worker (qemu-server's ``create_disks``): a
    create fails its task with it; a synchronous config update answers it at once."""
