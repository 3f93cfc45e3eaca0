"""Steward: the Django project package and the governance core."""

from governance.celery import app as celery_app

__all__ = ["celery_app"]
