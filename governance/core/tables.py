"""Sortable, paginated tables for server-rendered list pages.

A view turns a queryset into a ``Table`` with ``build_table`` and renders
``components/table.html`` with it. Sorting is by whitelisted keys only (a visitor can
never order by an arbitrary field), and every link the table makes keeps the other
query parameters, so filters survive sorting and paging.

URL parameters: ``sort=<key>`` ascending, ``sort=-<key>`` descending, ``page=<n>``;
both take an optional prefix when one page shows several tables.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class Column:
    """A table column; ``accessor`` is a dotted attribute path or a callable on the row.

    ``sort_key`` names an entry of the table's allowed sorts; None means not sortable.
    """

    label: str
    accessor: str | Callable[[Any], Any] | None = None
    sort_key: str | None = None
    numeric: bool = False

    def value(self, obj: Any) -> Any:
        if self.accessor is None:
            return ""
        if callable(self.accessor):
            return self.accessor(obj)
        for part in self.accessor.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return ""
        return obj


@dataclass(frozen=True)
class HeaderCell:
    label: str
    numeric: bool
    # None when the column cannot be sorted.
    sort_url: str | None
    direction: Direction | None

    @property
    def aria_sort(self) -> str:
        return {"asc": "ascending", "desc": "descending"}.get(self.direction or "", "none")


@dataclass(frozen=True)
class Cell:
    value: Any
    numeric: bool


@dataclass(frozen=True)
class Row:
    obj: Any
    cells: list[Cell]


@dataclass(frozen=True)
class PageLink:
    """A numbered page link; ``number`` None stands for an elided run of pages."""

    number: int | None
    url: str | None
    current: bool


@dataclass(frozen=True)
class Table:
    """Everything ``components/table.html`` needs; ``rows`` is the current page only."""

    headers: list[HeaderCell]
    rows: list[Row]
    page: Page
    sort: str
    page_links: list[PageLink]
    previous_url: str | None
    next_url: str | None

    @property
    def total(self) -> int:
        return self.page.paginator.count

    @property
    def is_paginated(self) -> bool:
        return self.page.paginator.num_pages > 1


def query_url(request: HttpRequest, **changes: str | None) -> str:
    """The current URL's query with ``changes`` applied (None removes a parameter)."""
    query = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def sort_headers(
    request: HttpRequest,
    columns: Sequence[tuple[str, str | None]],
    sort: str,
    *,
    sortable: Container[str] | None = None,
) -> list[dict]:
    """Headers for a keyset-paged list: ``(label, key)`` columns, ``sort`` like ``-name``.

    Clicking the sorted column flips it, any other sorts ascending; a column sorts only
    when it has a key (and, with ``sortable``, the key is in it). Re-sorting drops the cursor.
    """
    headers = []
    for label, key in columns:
        direction = None
        if key is not None and sort.removeprefix("-") == key:
            direction = "desc" if sort.startswith("-") else "asc"
        url = None
        if key is not None and (sortable is None or key in sortable):
            url = query_url(request, sort=f"-{key}" if direction == "asc" else key, cursor=None)
        headers.append({"label": label, "url": url, "direction": direction})
    return headers


def _parse_sort(raw: str, sorts: Mapping[str, Sequence[str]]) -> tuple[str, Direction] | None:
    key = raw.removeprefix("-")
    if key not in sorts:
        return None
    return key, "desc" if raw.startswith("-") else "asc"


def _ordering(fields: Sequence[str], direction: Direction) -> list[str]:
    # Descending flips each field's own direction, so "-created" sorted desc is ascending.
    if direction == "asc":
        return list(fields)
    return [field[1:] if field.startswith("-") else f"-{field}" for field in fields]


def build_table(
    *,
    request: HttpRequest,
    queryset: QuerySet,
    columns: Sequence[Column],
    sorts: Mapping[str, str | Sequence[str]],
    default_sort: str,
    page_size: int = 25,
    prefix: str = "",
) -> Table:
    """Sort and paginate ``queryset`` as the request asks, within what ``sorts`` allows.

    ``sorts`` maps a public key to one or more ORM ordering expressions. An unknown sort
    falls back to ``default_sort``; a page number out of range shows the last page. The
    primary key is appended as a tie-breaker so rows never repeat or vanish across pages.
    """
    normalized = {key: (v,) if isinstance(v, str) else tuple(v) for key, v in sorts.items()}
    default = _parse_sort(default_sort, normalized)
    if default is None:
        raise ValueError(f"default_sort {default_sort!r} is not one of {sorted(normalized)}")
    sort_param, page_param = f"{prefix}sort", f"{prefix}page"
    key, direction = _parse_sort(request.GET.get(sort_param, ""), normalized) or default

    ordering = _ordering(normalized[key], direction)
    if not any(field.lstrip("-") in ("pk", "id") for field in ordering):
        ordering.append("-pk" if direction == "desc" else "pk")
    paginator = Paginator(queryset.order_by(*ordering), page_size)
    page = paginator.get_page(request.GET.get(page_param))

    headers = []
    for column in columns:
        if column.sort_key is None:
            headers.append(HeaderCell(column.label, column.numeric, None, None))
            continue
        if column.sort_key not in normalized:
            raise ValueError(f"column {column.label!r} sorts by unknown key {column.sort_key!r}")
        current = direction if column.sort_key == key else None
        # Clicking the sorted column flips it; any other column starts ascending.
        target = f"-{column.sort_key}" if current == "asc" else column.sort_key
        url = query_url(request, **{sort_param: target, page_param: None})
        headers.append(HeaderCell(column.label, column.numeric, url, current))

    page_links = [
        PageLink(None, None, False)
        if number == Paginator.ELLIPSIS
        else PageLink(
            number, query_url(request, **{page_param: str(number)}), number == page.number
        )
        for number in paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    ]
    return Table(
        headers=headers,
        rows=[
            Row(obj, [Cell(column.value(obj), column.numeric) for column in columns])
            for obj in page.object_list
        ],
        page=page,
        sort=f"-{key}" if direction == "desc" else key,
        page_links=page_links,
        previous_url=query_url(request, **{page_param: str(page.previous_page_number())})
        if page.has_previous()
        else None,
        next_url=query_url(request, **{page_param: str(page.next_page_number())})
        if page.has_next()
        else None,
    )
