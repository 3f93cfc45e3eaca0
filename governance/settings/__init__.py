"""Steward settings. Everything configurable comes from ``governance.settings.env``."""

from governance.settings.base import *  # noqa: F403
