"""The table helper: whitelisted sorting, stable pagination, links that keep filters."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import RequestFactory

from governance.core.tables import Column, build_table

pytestmark = pytest.mark.django_db

COLUMNS = [
    Column("Username", "username", sort_key="name"),
    Column("Email", "email"),
    Column("Joined", "date_joined", sort_key="joined"),
]
SORTS = {"name": "username", "joined": ("date_joined", "username")}


@pytest.fixture
def users():
    User = get_user_model()
    # Two users share a name prefix order that differs from insertion order.
    return [
        User.objects.create_user(username=f"u{n:02d}", email=f"u{n}@example.org")
        for n in (5, 3, 1, 4, 2, 9, 8, 7, 6, 0)
    ]


def _table(query: str = "", **kwargs):
    request = RequestFactory().get(f"/people/?{query}")
    options = {"columns": COLUMNS, "sorts": SORTS, "default_sort": "name", "page_size": 4}
    options.update(kwargs)
    return build_table(request=request, queryset=get_user_model().objects.all(), **options)


def _names(table) -> list[str]:
    return [row.obj.username for row in table.rows]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(url.lstrip("?"))


def test_default_sort_and_first_page(users):
    table = _table()
    assert _names(table) == ["u00", "u01", "u02", "u03"]
    assert table.total == 10
    assert table.sort == "name"
    assert table.headers[0].direction == "asc"
    assert table.headers[0].aria_sort == "ascending"


def test_descending_sort_and_later_page(users):
    table = _table("sort=-name&page=2")
    assert _names(table) == ["u05", "u04", "u03", "u02"]
    assert table.headers[0].direction == "desc"


def test_unknown_or_unlisted_sort_falls_back_to_default(users):
    assert _names(_table("sort=password")) == ["u00", "u01", "u02", "u03"]
    assert _names(_table("sort=-email")) == ["u00", "u01", "u02", "u03"]


def test_out_of_range_page_shows_the_last_page(users):
    table = _table("page=99")
    assert table.page.number == 3
    assert _names(table) == ["u08", "u09"]
    assert table.next_url is None


def test_pages_cover_every_row_once_even_with_ties(users):
    # Every user joined within the same instant or so: the pk tie-breaker keeps pages stable.
    seen = []
    for page in (1, 2, 3):
        seen += _names(_table(f"sort=joined&page={page}"))
    assert sorted(seen) == sorted(user.username for user in users)


def test_sort_links_keep_filters_and_reset_the_page(users):
    table = _table("q=u0&sort=name&page=2")
    name_header, email_header, joined_header = table.headers
    assert _query(name_header.sort_url) == {"q": ["u0"], "sort": ["-name"]}
    assert _query(joined_header.sort_url) == {"q": ["u0"], "sort": ["joined"]}
    assert email_header.sort_url is None
    assert email_header.aria_sort == "none"


def test_page_links_keep_filters_and_sort(users):
    table = _table("q=u0&sort=-name&page=2")
    assert _query(table.next_url) == {"q": ["u0"], "sort": ["-name"], "page": ["3"]}
    assert _query(table.previous_url) == {"q": ["u0"], "sort": ["-name"], "page": ["1"]}
    assert [link.number for link in table.page_links] == [1, 2, 3]
    assert [link.current for link in table.page_links] == [False, True, False]


def test_prefix_lets_two_tables_share_a_page(users):
    table = _table("a-sort=-name&sort=joined", prefix="a-")
    assert table.sort == "-name"
    assert _query(table.headers[0].sort_url) == {"a-sort": ["name"], "sort": ["joined"]}


def test_misconfigured_tables_fail_loudly():
    with pytest.raises(ValueError, match="default_sort"):
        _table(default_sort="email")
    with pytest.raises(ValueError, match="unknown key"):
        _table(columns=[Column("Email", "email", sort_key="email")])


def test_component_renders_sortable_headers_rows_and_pagination(users):
    html = render_to_string("components/table.html", {"table": _table("sort=-name")})
    assert 'aria-sort="descending"' in html
    assert 'href="?sort=name"' in html
    assert "u09" in html
    assert 'rel="next"' in html
    assert "1\u20134 of 10" in html


def test_component_renders_the_empty_state():
    html = render_to_string(
        "components/table.html", {"table": _table(), "empty_title": "No people"}
    )
    assert "No people" in html
    assert "<table" not in html
