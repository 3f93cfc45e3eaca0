"""The remembered date formatting the rules share (``policy.rules.base.iso`` / ``day``)."""

from datetime import UTC, date, datetime, timedelta, timezone

from policy.rules.base import day, iso


def test_iso_keeps_the_time_zone_of_equal_instants_apart() -> None:
    utc = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    assert utc == paris  # one instant: a cache keyed on the value alone would mix them up
    assert iso(utc) == "2026-03-01T12:00:00+00:00"
    assert iso(paris) == "2026-03-01T13:00:00+01:00"
    assert iso(utc) == "2026-03-01T12:00:00+00:00"


def test_iso_and_day_take_dates_datetimes_and_none() -> None:
    assert iso(None) is None
    assert iso(date(2026, 3, 1)) == "2026-03-01"
    assert iso(datetime(2026, 3, 1, 23, 59, 1, 5, tzinfo=UTC)) == "2026-03-01T23:59:01.000005+00:00"
    assert day(date(2026, 3, 1)) == "2026-03-01"
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert day(late) == "2026-03-01"
    assert day(late.astimezone(timezone(timedelta(hours=2)))) == "2026-03-02"
