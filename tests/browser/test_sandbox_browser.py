"""The sandbox in a real browser: a customer writes from the chat page, an agent answers from the inbox page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import PageFactory, ServeRelay

pytestmark = pytest.mark.browser


async def storage(page: Page) -> dict[str, list[str]]:
    """The keys a page keeps in local and session storage."""
    keys: dict[str, list[str]] = await page.evaluate(
        "() => ({local: Object.keys(localStorage), session: Object.keys(sessionStorage)})"
    )
    return keys


async def test_customer_and_agent_talk_through_the_sandbox(
    serve_relay: ServeRelay, open_page: PageFactory, tmp_path: Path
) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/")
    inbox = await open_page(f"{base}/hooks/inbox/")
    await expect(chat.get_by_role("heading", name="Chat with us")).to_be_visible()
    await expect(inbox.get_by_test_id("no-conversations")).to_be_visible()
    await expect(inbox.get_by_test_id("connection")).to_have_text("Live")

    await chat.get_by_label("Your name (optional)").fill("Alex Doe")
    await chat.get_by_label("Message").fill("Hello! Where is my order <b>#42</b>?")
    await chat.get_by_test_id("send").click()
    mine = chat.get_by_test_id("mine")
    await expect(mine.locator(".bubble")).to_have_text("Hello! Where is my order <b>#42</b>?")
    await expect(mine.get_by_test_id("status")).to_have_text("Sent")

    conversation = inbox.get_by_test_id("conversation")
    await expect(conversation).to_have_count(1)
    await expect(conversation).to_contain_text("Alex Doe")
    await expect(conversation).to_contain_text("webchat")
    await expect(conversation.get_by_test_id("unread")).to_have_text("1")
    await conversation.click()
    await expect(inbox.get_by_test_id("thread-title")).to_have_text("Alex Doe")
    incoming = inbox.locator('[data-testid="item"][data-direction="in"]')
    await expect(incoming).to_contain_text("Where is my order <b>#42</b>?")
    await expect(conversation.get_by_test_id("unread")).to_be_hidden()

    await inbox.get_by_label("Reply").fill("It shipped **today**, see *tracking*.")
    await inbox.get_by_label("Reply").press("Enter")
    await expect(inbox.get_by_test_id("reply-result")).to_have_text("Sent")
    outgoing = inbox.locator('[data-testid="item"][data-direction="out"]')
    await expect(outgoing.get_by_test_id("status")).to_have_text("Sent")
    await expect(outgoing.locator("b")).to_have_text("today")

    reply = chat.get_by_test_id("reply")
    await expect(reply).to_contain_text("It shipped today, see tracking.")
    await expect(reply.locator("b")).to_have_text("today")
    await expect(reply.locator("i")).to_have_text("tracking")
    await expect(chat.locator(".bubble b")).to_have_count(1)

    await chat.reload()
    await expect(chat.get_by_test_id("reply")).to_contain_text("It shipped today")
    await expect(chat.get_by_test_id("mine")).to_have_count(1)
    await chat.get_by_label("Message").fill("Thanks!")
    await chat.get_by_label("Message").press("Enter")
    await expect(chat.get_by_test_id("mine").nth(1).get_by_test_id("status")).to_have_text("Sent")
    await expect(incoming).to_have_count(2)
    await expect(conversation).to_have_count(1)

    kept = await storage(chat)
    assert kept["local"] == []
    assert sorted(kept["session"]) == ["relay.webchat.mine:/hooks/webchat", "relay.webchat.token:/hooks/webchat"]
    assert await storage(inbox) == {"local": [], "session": []}
    assert "Thanks" not in chat.url + inbox.url
    await chat.screenshot(path=tmp_path / "chat.png")
    await inbox.screenshot(path=tmp_path / "inbox.png")


async def test_inbox_with_access_key_asks_for_it_once(serve_relay: ServeRelay, open_page: PageFactory) -> None:
    base = await serve_relay(inbox={"access_key": "sandbox-access-key-123"})
    inbox = await open_page(f"{base}/hooks/inbox/")
    dialog = inbox.get_by_test_id("key-dialog")
    await expect(dialog).to_be_visible()
    await inbox.get_by_label("Access key").fill("wrong-key")
    await inbox.get_by_label("Access key").press("Enter")
    await expect(inbox.get_by_test_id("key-error")).to_have_text("That key did not work. Try again.")
    await inbox.get_by_label("Access key").fill("sandbox-access-key-123")
    await inbox.get_by_role("button", name="Open inbox").click()
    await expect(dialog).to_be_hidden()
    await expect(inbox.get_by_test_id("connection")).to_have_text("Live")

    await inbox.reload()
    await expect(inbox.get_by_test_id("connection")).to_have_text("Live")
    await expect(dialog).to_be_hidden()
    assert await storage(inbox) == {"local": [], "session": ["relay.inbox.key:/hooks/inbox"]}


async def test_chat_page_escapes_its_title(serve_relay: ServeRelay, open_page: PageFactory) -> None:
    base = await serve_relay(webchat={"title": "<i>Acme</i> & Co"})
    chat = await open_page(f"{base}/hooks/webchat/")
    await expect(chat.get_by_role("heading")).to_have_text("<i>Acme</i> & Co")
    assert await chat.title() == "<i>Acme</i> & Co"


async def test_chat_retries_a_503_with_the_same_id_and_shows_4xx_reasons(
    serve_relay: ServeRelay, open_page: PageFactory
) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/", allow=(400, 503))
    sent: list[dict[str, Any]] = []

    async def flaky(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        sent.append(body)
        if body["text"] == "too much":
            await route.fulfill(status=400, json={"error": "invalid fields: text"})
        elif len(sent) == 1:
            await route.fulfill(status=503, headers={"Retry-After": "1"}, json={"status": "retry"})
        else:
            await route.continue_()

    await chat.route("**/api/messages", flaky)
    await chat.get_by_label("Message").fill("first try")
    await chat.get_by_label("Message").press("Enter")
    status = chat.get_by_test_id("mine").get_by_test_id("status")
    await expect(status).to_have_text("Not delivered, retrying…")
    await expect(status).to_have_text("Sent")
    assert [b["id"] for b in sent] == [sent[0]["id"]] * 2

    await chat.get_by_label("Message").fill("too much")
    await chat.get_by_label("Message").press("Enter")
    await expect(chat.get_by_test_id("mine").nth(1).get_by_test_id("status")).to_have_text(
        "Failed: invalid fields: text"
    )
    assert sent[2]["id"] != sent[0]["id"]


async def test_inbox_shows_a_reply_that_was_not_sent_and_keeps_the_text(
    serve_relay: ServeRelay, open_page: PageFactory
) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/")
    inbox = await open_page(f"{base}/hooks/inbox/", allow=(503,))
    await chat.get_by_label("Message").fill("hello")
    await chat.get_by_label("Message").press("Enter")
    await inbox.get_by_test_id("conversation").click()

    async def busy(route: Route) -> None:
        await route.fulfill(status=503, json={"status": "retry", "reason": "rate_limited"})

    await inbox.route("**/messages", busy)
    await inbox.get_by_label("Reply").fill("on my way")
    await inbox.get_by_test_id("reply-send").click()
    await expect(inbox.get_by_test_id("reply-result")).to_have_text("Not sent, try again: rate_limited")
    await expect(inbox.get_by_label("Reply")).to_have_value("on my way")
