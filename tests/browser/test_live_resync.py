"""A lost live frame is noticed: the page refetches its live regions from the server.

The websocket is routed through Playwright so the test can drop one frame on its way to
the page, as a flaky proxy or an overloaded server would.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# The channel layer between the snippet's process and daphne is polled.
DELIVERY_TIMEOUT_S = 20

_NOTIFY = """
import django, sys
django.setup()
from django.contrib.auth import get_user_model
from governance.notifications.services import notify
user = get_user_model().objects.get(username=sys.argv[1])
notify(user=user, kind="test", subject=sys.argv[2], link="/")
"""

_ACTIVITY = """
import django, sys
django.setup()
from django.contrib.auth import get_user_model
from governance.core.realtime import publish_to_user
user = get_user_model().objects.get(username=sys.argv[1])
publish_to_user(user.pk, "activity", {"text": sys.argv[2]})
"""


_RECORD_RESYNCS = """() => {
  window.resyncs = [];
  document.addEventListener("steward:resync", (e) => window.resyncs.push(e.detail.reason));
}"""


class FrameDropper:
    """Forwards the live socket's frames to the page, dropping the next one on demand."""

    def __init__(self) -> None:
        self.drop_next = False
        self.dropped: list[str] = []

    def route(self, ws) -> None:
        server = ws.connect_to_server()

        def to_page(message) -> None:
            if self.drop_next:
                self.drop_next = False
                self.dropped.append(message)
                return
            ws.send(message)

        server.on_message(to_page)

    def wait_for_drop(self, page) -> None:
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while not self.dropped:
            assert time.monotonic() < deadline, "no live frame reached the page's socket"
            page.wait_for_timeout(100)


def test_a_skipped_frame_makes_the_notification_bell_refetch(
    page, sign_in, make_user, browser_stack
):
    username = make_user("end_user")
    dropper = FrameDropper()
    page.route_web_socket("**/ws/live/", dropper.route)
    sign_in(page, "end_user", username=username)
    expect(page.locator("[data-live-status]")).to_have_attribute("data-live-status", "online")
    page.evaluate(_RECORD_RESYNCS)
    bell = page.locator(".notification-bell")
    expect(bell.locator("[data-unread-count]")).to_have_count(0)

    dropper.drop_next = True
    browser_stack.python(_NOTIFY, username, "lost on the way")
    dropper.wait_for_drop(page)
    assert '"notification"' in dropper.dropped[0]
    page.wait_for_timeout(300)
    # The notification's own frame never arrived: the bell knows nothing yet.
    expect(bell.locator("[data-unread-count]")).to_have_count(0)

    # The next frame's seq skips one: the page resyncs and the bell asks the server.
    browser_stack.python(_ACTIVITY, username, "after the gap")
    expect(page.get_by_test_id("activity")).to_contain_text(
        "after the gap", timeout=DELIVERY_TIMEOUT_S * 1000
    )
    expect(bell.locator("[data-unread-count]")).to_have_text("1")
    assert page.evaluate("window.resyncs") == ["gap"]
