"""``{% unread_notifications as count %}``: the top bar's unread count (one query per page)."""

from __future__ import annotations

from django import template

from governance.notifications.selectors import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: template.Context) -> int:
    request = context.get("request")
    return unread_count(user=getattr(request, "user", None))
