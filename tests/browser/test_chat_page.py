"""The chat page as a customer meets it: long messages in view, the length limit shown, and the customer's
own messages still there after a reload (kept in the tab, never on the server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PageFactory, ServeRelay

pytestmark = pytest.mark.browser

LONG = "\n".join(f"line {i} of a long message" for i in range(60))


async def list_box(page: Page) -> dict[str, float]:
    box: dict[str, float] = await page.evaluate(
        """() => { const l = document.querySelector('[data-testid="messages"]');
                   return {top: l.scrollTop, height: l.clientHeight, full: l.scrollHeight,
                           at: l.getBoundingClientRect().top}; }"""
    )
    return box


async def answer(inbox: Page, text: str) -> None:
    await inbox.get_by_test_id("conversation").first.click()
    await inbox.get_by_label("Reply").fill(text)
    await inbox.get_by_test_id("reply-send").click()
    await expect(inbox.get_by_test_id("reply-result")).to_have_text("Sent")


async def test_long_messages_are_scrolled_into_view_once_filled(
    serve_relay: ServeRelay, open_page: PageFactory
) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/")
    inbox = await open_page(f"{base}/hooks/inbox/")
    await chat.get_by_label("Message").fill("hello")
    await chat.get_by_label("Message").press("Enter")
    await expect(chat.get_by_test_id("mine").get_by_test_id("status")).to_have_text("Sent")

    await chat.get_by_label("Message").fill(LONG)
    await chat.get_by_label("Message").press("Enter")
    await expect(chat.get_by_test_id("mine").nth(1).get_by_test_id("status")).to_have_text("Sent")
    box = await list_box(chat)
    assert box["full"] > 2 * box["height"], "the message should be taller than the view for this test"
    assert box["full"] - box["top"] - box["height"] < 2, "the end of my own long message is in view"

    await answer(inbox, LONG.replace("message", "reply"))
    reply = chat.get_by_test_id("reply")
    await expect(reply).to_contain_text("line 59 of a long reply")
    await chat.wait_for_timeout(100)
    box = await list_box(chat)
    top = await reply.evaluate("el => el.getBoundingClientRect().top")
    assert 0 <= top - box["at"] < box["height"] / 3, "a reply taller than the view shows its beginning"


async def test_the_counter_shows_the_limit_and_nothing_is_cut(serve_relay: ServeRelay, open_page: PageFactory) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/")
    count = chat.get_by_test_id("count")
    await expect(count).to_have_text("0 / 4,000")
    text = chat.get_by_label("Message")
    await text.fill("x" * 4100)
    assert len(await text.input_value()) == 4100, "a paste is never cut silently"
    await expect(count).to_have_text("4,100 / 4,000")
    await expect(chat.get_by_test_id("too-long")).to_have_text(
        "100 characters over the limit of 4,000: shorten it or send it in parts"
    )
    await expect(chat.get_by_test_id("send")).to_be_disabled()
    await text.press("Enter")
    await expect(chat.get_by_test_id("mine")).to_have_count(0)
    await text.fill("x" * 4000)
    await expect(chat.get_by_test_id("too-long")).to_have_text("")
    await expect(chat.get_by_test_id("send")).to_be_enabled()
    await text.press("Enter")
    await expect(chat.get_by_test_id("mine").get_by_test_id("status")).to_have_text("Sent")
    await expect(count).to_have_text("0 / 4,000")


async def test_a_reload_shows_my_own_messages_in_order_from_this_tab_only(
    serve_relay: ServeRelay, open_page: PageFactory
) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/")
    inbox = await open_page(f"{base}/hooks/inbox/")
    await chat.get_by_label("Message").fill("first question https://shop.example.com/order/42.")
    await chat.get_by_label("Message").press("Enter")
    await expect(chat.get_by_test_id("mine").get_by_test_id("status")).to_have_text("Sent")
    await answer(inbox, "first answer")
    await expect(chat.get_by_test_id("reply")).to_have_count(1)
    await chat.get_by_label("Message").fill("second question")
    await chat.get_by_label("Message").press("Enter")
    await expect(chat.get_by_test_id("mine").nth(1).get_by_test_id("status")).to_have_text("Sent")

    await chat.reload()
    rows = chat.locator('[data-testid="mine"], [data-testid="reply"]')
    await expect(rows).to_have_count(3)
    await expect(rows.nth(0)).to_contain_text("first question")
    await expect(rows.nth(1)).to_contain_text("first answer")
    await expect(rows.nth(2)).to_contain_text("second question")
    await expect(rows.nth(2).get_by_test_id("status")).to_have_text("Sent")
    link = rows.nth(0).get_by_role("link")
    await expect(link).to_have_attribute("href", "https://shop.example.com/order/42")
    await expect(chat.get_by_test_id("welcome-back")).to_contain_text("this browser tab only")

    kept: dict[str, Any] = await chat.evaluate(
        "() => ({local: Object.keys(localStorage), session: Object.fromEntries(Object.entries(sessionStorage))})"
    )
    assert kept["local"] == []
    mine = json.loads(kept["session"]["relay.webchat.mine:/hooks/webchat"])
    assert [m["text"] for m in mine] == ["first question https://shop.example.com/order/42.", "second question"]
    assert set(kept["session"]) == {"relay.webchat.token:/hooks/webchat", "relay.webchat.mine:/hooks/webchat"}

    await answer(inbox, "second answer")
    await expect(rows).to_have_count(4)
    await expect(rows.nth(3)).to_contain_text("second answer")
    other = await open_page(f"{base}/hooks/webchat/")
    await expect(other.get_by_test_id("mine")).to_have_count(0)
