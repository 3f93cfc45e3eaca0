"""The access and export beat entries name registered tasks, often enough for the promise
that an expired grant is gone within 60 s."""

from __future__ import annotations

from governance.approvals import grant_tasks
from governance.celery import app


def test_grants_are_reconciled_well_within_a_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["approvals-grants-reconcile"]
    assert entry["task"] == grant_tasks.grants_reconcile.name
    assert entry["schedule"] <= 30


def test_exports_expire_on_a_timer_and_the_tasks_are_registered(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["approvals-exports-expire"]
    assert entry["task"] == grant_tasks.exports_expire.name
    app.loader.import_default_modules()
    assert {"approvals.grants_reconcile", "approvals.exports_expire"} <= set(app.tasks)
