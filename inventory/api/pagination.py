"""Keyset pagination for the VM API: the same sorts and cursors as the VM page."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from inventory.keyset import InvalidCursor, keyset_paginate


class KeysetPagination(pagination.BasePagination):
    """``?cursor=`` pages in the view's ``keyset_order``; ``page_size`` up to 1000."""

    page_size = 50
    max_page_size = 1000

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list:
        try:
            size = int(request.query_params.get("page_size", self.page_size))
        except ValueError as exc:
            raise ValidationError({"page_size": ["Must be a whole number."]}) from exc
        size = max(1, min(size, self.max_page_size))
        try:
            page = keyset_paginate(
                queryset,
                order=view.keyset_order(),
                cursor=request.query_params.get("cursor"),
                size=size,
            )
        except InvalidCursor as exc:
            raise ValidationError({"cursor": [str(exc)]}) from exc
        url = remove_query_param(request.build_absolute_uri(), "cursor")
        self.next = (
            replace_query_param(url, "cursor", page.next_cursor) if page.next_cursor else None
        )
        self.previous = (
            replace_query_param(url, "cursor", page.previous_cursor)
            if page.previous_cursor
            else None
        )
        return page.rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next, "previous": self.previous, "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }
