"""The pages pass axe-core (contrast, landmarks, labels, language and the rest of WCAG 2.1 AA and its best
practices) in every state a user sees; links in messages are safe; the inbox fits a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PageFactory, ServeRelay, axe_violations

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 800}, "is_mobile": True, "has_touch": True}


async def clean(page: Page, script: Path, state: str) -> None:
    found = await axe_violations(page, script)
    assert found == [], f"{state}:\n" + "\n".join(found)


async def talk(chat: Page, inbox: Page) -> None:
    """A customer message with a URL, an agent answer with formatting and a link, both shown."""
    await chat.get_by_label("Your name (optional)").fill("Alex Doe")
    await chat.get_by_label("Message").fill("Where is my order? https://shop.example.com/o/42 (see there).")
    await chat.get_by_label("Message").press("Enter")
    await expect(chat.get_by_test_id("mine").get_by_test_id("status")).to_have_text("Sent")
    await inbox.get_by_test_id("conversation").click()
    await inbox.get_by_label("Reply").fill(
        "It shipped **today**: https://track.example.com/x?id=1, and [help](https://help.example.com)."
    )
    await inbox.get_by_label("Reply").press("Enter")
    await expect(inbox.get_by_test_id("reply-result")).to_have_text("Sent")
    await expect(chat.get_by_test_id("reply")).to_contain_text("It shipped today")


async def test_every_page_and_state_passes_axe(
    serve_relay: ServeRelay, open_page: PageFactory, axe_script: Path
) -> None:
    base = await serve_relay()
    root = await open_page(f"{base}/", bypass_csp=True)
    await clean(root, axe_script, "start page")
    chat = await open_page(f"{base}/hooks/webchat/", bypass_csp=True)
    inbox = await open_page(f"{base}/hooks/inbox/", bypass_csp=True)
    await expect(inbox.get_by_test_id("connection")).to_have_text("Live")
    await clean(chat, axe_script, "empty chat")
    await clean(inbox, axe_script, "empty inbox")
    await talk(chat, inbox)
    await expect(chat.get_by_test_id("connection")).to_have_text("Online")
    await clean(chat, axe_script, "chat with a reply")
    await clean(inbox, axe_script, "inbox with a conversation open")
    await chat.get_by_label("Message").fill("x" * 4001)
    await expect(chat.get_by_test_id("send")).to_be_disabled()
    await clean(chat, axe_script, "chat with a message over the limit")
    await chat.reload()
    await expect(chat.get_by_test_id("welcome-back")).to_be_visible()
    await clean(chat, axe_script, "chat after a reload")


async def test_the_locked_inbox_and_the_phone_layout_pass_axe(
    serve_relay: ServeRelay, open_page: PageFactory, axe_script: Path
) -> None:
    base = await serve_relay(inbox={"access_key": "sandbox-access-key-123"})
    locked = await open_page(f"{base}/hooks/inbox/", bypass_csp=True)
    await expect(locked.get_by_test_id("key-dialog")).to_be_visible()
    await clean(locked, axe_script, "inbox asking for its key")
    chat = await open_page(f"{base}/hooks/webchat/", bypass_csp=True, **PHONE)
    await clean(chat, axe_script, "chat on a phone")


async def test_links_in_messages_are_safe_links(serve_relay: ServeRelay, open_page: PageFactory) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/")
    inbox = await open_page(f"{base}/hooks/inbox/")
    await talk(chat, inbox)
    for where, scope in (
        ("my message", chat.get_by_test_id("mine")),
        ("the customer's message", inbox.locator('[data-testid="item"][data-direction="in"] .bubble')),
    ):
        link = scope.get_by_role("link")
        await expect(link, where).to_have_count(1)
        await expect(link).to_have_attribute("href", "https://shop.example.com/o/42")
        await expect(link).to_have_text("https://shop.example.com/o/42")
        await expect(link).to_have_attribute("rel", "noopener noreferrer")
        await expect(link).to_have_attribute("target", "_blank")
    reply = chat.get_by_test_id("reply").get_by_role("link")
    await expect(reply).to_have_count(2)
    await expect(reply.nth(0)).to_have_attribute("href", "https://track.example.com/x?id=1")
    await expect(reply.nth(1)).to_have_attribute("href", "https://help.example.com/")
    for i in range(2):
        await expect(reply.nth(i)).to_have_attribute("rel", "noopener noreferrer")
    await chat.get_by_label("Message").fill('javascript:alert(1) and http://ok.example.com/a"onmouseover=x')
    await chat.get_by_label("Message").press("Enter")
    last = chat.get_by_test_id("mine").nth(1).get_by_role("link")
    await expect(last).to_have_count(1)
    await expect(last).to_have_attribute("href", "http://ok.example.com/a")


async def test_the_inbox_says_sent_like_its_reply_box_and_links_its_empty_hint(
    serve_relay: ServeRelay, open_page: PageFactory
) -> None:
    base = await serve_relay()
    inbox = await open_page(f"{base}/hooks/inbox/")
    hint = inbox.get_by_test_id("no-conversations").get_by_role("link")
    await expect(hint).to_have_attribute("href", "/")
    await expect(hint).to_have_attribute("rel", "noopener noreferrer")
    chat = await open_page(f"{base}/hooks/webchat/")
    await talk(chat, inbox)
    out = inbox.locator('[data-testid="item"][data-direction="out"]')
    await expect(out.get_by_test_id("status")).to_have_text("Sent")
    await expect(inbox.get_by_role("main")).to_have_count(1)


async def test_on_a_phone_the_inbox_list_sits_right_above_the_thread(
    serve_relay: ServeRelay, open_page: PageFactory
) -> None:
    base = await serve_relay()
    chat = await open_page(f"{base}/hooks/webchat/", **PHONE)
    inbox = await open_page(f"{base}/hooks/inbox/", **PHONE)
    await expect(inbox.get_by_test_id("no-conversations")).to_be_visible()
    assert await empty_below_the_list(inbox) <= 16
    await talk(chat, inbox)
    assert await empty_below_the_list(inbox) <= 16
    gap = await inbox.evaluate(
        "() => document.querySelector('section').getBoundingClientRect().top"
        " - document.querySelector('nav').getBoundingClientRect().bottom"
    )
    assert abs(gap) <= 1, f"{gap}px between the conversation list and the thread"
    form_bottom = await inbox.evaluate("() => document.querySelector('form.reply').getBoundingClientRect().bottom")
    assert form_bottom <= 800 + 1, "the reply box is on screen"


async def empty_below_the_list(inbox: Page) -> float:
    """Pixels of empty panel between the conversation list's last visible line and the thread below it."""
    gap: float = await inbox.evaluate(
        """() => { const nav = document.querySelector('nav');
                   const shown = Array.from(nav.children).filter(el => el.getClientRects().length);
                   const last = Math.max(...shown.map(el => el.getBoundingClientRect().bottom));
                   return nav.getBoundingClientRect().bottom - last; }"""
    )
    return gap
