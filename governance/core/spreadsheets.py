"""Cells of the CSV files people open in spreadsheet programs.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel and LibreOffice (CSV injection): a VM name, a tag or what a guest agent
reports about its OS is chosen by whoever controls that VM. Such a cell is written with a
leading apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a cell no spreadsheet evaluates; anything but text unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"
    return value
