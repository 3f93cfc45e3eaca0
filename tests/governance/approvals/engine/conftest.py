"""The engine tests run against pvesim (fixtures of the approvals conftest)."""

import pytest

from tests.shared_fixtures import in_memory_channels  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Record execution messages, with their tickets, instead of writing them to the broker."""
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        "governance.approvals.tasks.execution_advance.apply_async",
        lambda args, kwargs=None, **_: sent.append((args[0], (kwargs or {}).get("ticket"))),
    )
    return sent
