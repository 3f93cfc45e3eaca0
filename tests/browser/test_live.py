"""The live path end to end: web -> broker -> Celery worker -> channel layer -> browser."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Broker polling (filesystem transport: about a second) plus channel-layer polling.
DELIVERY_TIMEOUT_MS = 20_000


@pytest.mark.usefixtures("celery_worker_process")
def test_message_from_the_celery_task_reaches_only_the_senders_browser(
    chromium, daphne_server, sign_in
):
    contexts = [chromium.new_context(base_url=daphne_server) for _ in range(2)]
    try:
        sender, bystander = (context.new_page() for context in contexts)
        sign_in(sender, "end_user")
        sign_in(bystander, "manager")
        for page in (sender, bystander):
            expect(page.locator("[data-live-status]")).to_have_attribute(
                "data-live-status", "online"
            )

        text = f"round trip {uuid.uuid4().hex[:8]}"
        sender.get_by_label("Message").fill(text)
        sender.get_by_role("button", name="Send through the worker").click()
        expect(sender.get_by_role("status").filter(has_text="Queued")).to_be_visible()

        feed = sender.get_by_test_id("activity")
        expect(feed).to_contain_text(text, timeout=DELIVERY_TIMEOUT_MS)
        # The bystander is connected to the same layer but is not in the sender's group.
        expect(bystander.get_by_test_id("activity")).not_to_contain_text(text, timeout=1_000)
    finally:
        for context in contexts:
            context.close()
