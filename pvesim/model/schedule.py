"""The subset of PVE calendar events (systemd-like) used by backup jobs, and ``next-run``.

Supported: ``[WEEKDAYS] [HH:MM]`` where WEEKDAYS is ``mon``, ``mon,wed``, ``mon..fri`` and
HH / MM are a number, ``*``, ``*/N`` or ``A/N`` (start/step); a bare ``*/N`` means every N
minutes; ``hourly``, ``daily``, ``weekly`` are the usual shorthands. Times are UTC.
"""

from __future__ import annotations

import time

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALIASES = {"hourly": "*:00", "daily": "00:00", "weekly": "mon 00:00", "minutely": "*:*"}


def _values(field: str, limit: int) -> list[int]:
    if field == "*":
        return list(range(limit))
    result: set[int] = set()
    for part in field.split(","):
        start_text, slash, step_text = part.partition("/")
        start = 0 if start_text == "*" else int(start_text)
        if slash:
            result.update(range(start, limit, int(step_text)))
        elif ".." in start_text:
            lo, hi = start_text.split("..")
            result.update(range(int(lo), int(hi) + 1))
        else:
            result.add(start)
    if not result or max(result) >= limit or min(result) < 0:
        raise ValueError(f"value out of range in '{field}'")
    return sorted(result)


def _days(field: str) -> set[int]:
    days: set[int] = set()
    for part in field.split(","):
        if ".." in part:
            lo, hi = (_DAYS.index(p) for p in part.split(".."))
            days.update(range(lo, hi + 1))
        else:
            days.add(_DAYS.index(part))
    return days


def parse_schedule(text: str) -> tuple[set[int], list[int], list[int]]:
    """(weekdays 0=Mon, hours, minutes); raises ValueError for what we cannot read."""
    spec = _ALIASES.get(text.strip(), text.strip())
    try:
        tokens = spec.split()
        days = set(range(7))
        if tokens and tokens[0][:3] in _DAYS:
            days = _days(tokens.pop(0))
        clock = tokens[0] if tokens else "00:00"
        if len(tokens) > 1:
            raise ValueError
        if ":" in clock:
            hour_text, minute_text = clock.split(":", 1)
        else:
            hour_text, minute_text = "*", clock
        return days, _values(hour_text, 24), _values(minute_text, 60)
    except (ValueError, IndexError):
        raise ValueError(f"unable to parse calendar event '{text}'") from None


def next_run(text: str, now: float) -> int | None:
    """Epoch of the next event strictly after ``now`` (within 8 days)."""
    days, hours, minutes = parse_schedule(text)
    base = int(now) - int(now) % 60
    day_start = base - base % 86400
    for offset in range(9):
        start = day_start + offset * 86400
        if time.gmtime(start).tm_wday not in days:
            continue
        for hour in hours:
            for minute in minutes:
                moment = start + hour * 3600 + minute * 60
                if moment > now:
                    return moment
    return None
