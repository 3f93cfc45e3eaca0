"""Keyset (seek) pagination: every page costs the same, however deep.

An offset page at row 99,900 makes the database walk 99,900 rows; a keyset page asks
for "rows after this one" in the sort order and walks only the page. The order must be
total, so callers end it with the primary key; every field in it must be non-null
(a NULL breaks row comparisons). Cursors are opaque url-safe strings holding the
boundary row's sort values and the direction; a cursor that does not decode is refused
with ``InvalidCursor``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet


class InvalidCursor(ValueError):
    """The cursor was not made by this module for this order."""


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _encode(values: list[Any], direction: str, order: Sequence[str]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    payload = json.dumps({"v": plain, "d": direction, "o": list(order)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(cursor: str, order: Sequence[str]) -> tuple[list[Any], str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        values, direction = payload["v"], payload["d"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidCursor("the cursor is not valid") from exc
    if payload.get("o") != list(order) or direction not in ("n", "p"):
        raise InvalidCursor("the cursor belongs to another sort order")
    if not isinstance(values, list) or len(values) != len(order):
        raise InvalidCursor("the cursor is not valid")
    return values, direction


def _field(name: str) -> str:
    return name.removeprefix("-")


def _after(order: Sequence[str], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in ``order``: OR over i of (equal before i, beyond at i).

    The redundant leading bound (first field >= its value) lets the database seek an
    index on the first field instead of scanning the whole OR.
    """
    first = order[0]
    clause = Q()
    for i, name in enumerate(order):
        step = Q(**{f"{_field(o)}": values[j] for j, o in enumerate(order[:i])})
        lookup = "lt" if name.startswith("-") else "gt"
        step &= Q(**{f"{_field(name)}__{lookup}": values[i]})
        clause |= step
    bound = "lte" if first.startswith("-") else "gte"
    return Q(**{f"{_field(first)}__{bound}": values[0]}) & clause


def _reverse(order: Sequence[str]) -> list[str]:
    return [name[1:] if name.startswith("-") else f"-{name}" for name in order]


def _values(row: Any, order: Sequence[str]) -> list[Any]:
    values = []
    for name in order:
        obj = row
        for part in _field(name).split("__"):
            obj = getattr(obj, part)
        values.append(obj.pk if hasattr(obj, "_meta") else obj)
    return values


def cursor_for(row: Any, order: Sequence[str]) -> str:
    """The cursor of the page that starts right after ``row`` (benchmarks, deep links)."""
    return _encode(_values(row, order), "n", order)


def keyset_paginate(
    queryset: QuerySet, *, order: Sequence[str], cursor: str | None, size: int
) -> KeysetPage:
    """One page of ``queryset`` in ``order`` (which must end with a unique field).

    Fetches ``size + 1`` rows to know whether another page follows: one query, whatever
    the depth. ``order`` entries use ORM names (``name``, ``-vmid``, ``cluster__name``);
    each must be a plain attribute path of the row so the boundary can be read back.
    """
    if not cursor:
        values, direction = None, "n"
    else:
        values, direction = _decode(cursor, order)
    walk = list(order) if direction == "n" else _reverse(order)
    rows_qs = queryset.order_by(*walk)
    if values is not None:
        if any(v is None for v in values):
            raise InvalidCursor("the cursor is not valid")
        rows_qs = rows_qs.filter(_after(walk, values))
    rows = list(rows_qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if direction == "p":
        rows.reverse()
    if not rows:
        return KeysetPage([], None, None)
    has_next = more if direction == "n" else True
    has_previous = values is not None if direction == "n" else more
    return KeysetPage(
        rows=rows,
        next_cursor=_encode(_values(rows[-1], order), "n", order) if has_next else None,
        previous_cursor=_encode(_values(rows[0], order), "p", order) if has_previous else None,
    )
