"""The lights board (Mini App) in a real Chromium at a phone's 390×844, as the sandbox opens it:
initData signed with the emulator's token for a demo person, Telegram's theme in the launch
parameters. It shows the demo's projects and lights, filters by light, opens a case's
timeline; a tampered and an expired initData show a clear message and no data; the dark
theme is followed; and the chat page opens it from its 🚦 button and from /board's button.

Skipped where Chromium is not installed, unless GREENLIGHT_REQUIRE_BROWSER=1.
Screenshots go to $GREENLIGHT_ARTIFACTS or tests/artifacts/ (board-*.png).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from playwright.async_api import Browser, Page, async_playwright

from sandbox.demo import PROJECTS
from sandbox.emulator.webapp import launch_fragment, sign_init_data
from sandbox.runner import LIGHT_THEME, SANDBOX_TOKEN
from tests.sandbox.conftest import LI, LIUXIAO, TIANTAI, Running, sandbox_running
from tests.sandbox.test_browser import ARTIFACTS, CHROMIUM

TANG = 100020  # 唐主任 of 东阳渡镇, a township of 珠晖区

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
PHONE = {"width": 390, "height": 844}
WAIT_MS = 10_000
NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= window.innerWidth"
CODES = "cards => cards.map(c => c.dataset.project)"
LIGHTS = "cards => cards.map(c => c.dataset.light)"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with sandbox_running(tmp_path / "data") as started:
        yield started


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            await launched.close()


@contextlib.asynccontextmanager
async def phone(browser: Browser, *, dark: bool = False) -> AsyncIterator[tuple[Page, list[str]]]:
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1, locale="zh-CN",
                                        timezone_id="Asia/Shanghai",
                                        color_scheme="dark" if dark else "light")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page, errors
    finally:
        await context.close()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(100)
    await page.screenshot(path=str(ARTIFACTS / f"board-{name}.png"))


async def board_url(sandbox: Running, user_id: int, *, dark: bool = False) -> str:
    answer = await sandbox.post("/sandbox/webapp", {"user_id": user_id, "dark": dark})
    url = str(answer["url"])
    assert url.startswith("/board#tgWebAppData=")
    return sandbox.base_url + url


def init_data_of(url: str) -> str:
    return dict(parse_qsl(url.split("#", 1)[1]))["tgWebAppData"]


async def test_the_board_on_a_phone(running: Running, chromium: Browser) -> None:
    await running.submit_item(LIUXIAO, TIANTAI, "管线迁改方案")
    url = await board_url(running, LI)
    async with phone(chromium) as (page, errors):
        await page.goto(url)
        await page.locator(".project").first.wait_for()
        codes = await page.eval_on_selector_all(".project", CODES)
        assert sorted(codes) == sorted(project.code for project in PROJECTS)
        lights = await page.eval_on_selector_all(".project", LIGHTS)
        assert lights[0] == "red"  # the demo's overdue milestone: late first
        assert "红绿灯看板" in await page.locator("#title").inner_text()
        assert await page.evaluate(NO_SIDEWAYS)
        # The city's leader: the city, a district and a township, each under its heading.
        units = await page.locator(".unit-title").all_inner_texts()
        assert sorted(units) == ["东阳渡镇", "市城乡规划管理局", "雁城区分局"]
        assert await page.locator("#unit-box").is_visible()
        await shot(page, "01-overview-phone")

        # Filter by light: the red chip, then the select back to all.
        await page.click('.chip[data-light="red"]')
        await page.wait_for_function(
            "() => document.querySelector('.chip[data-light=red]').classList.contains('on')")
        shown = await page.eval_on_selector_all(".project", LIGHTS)
        assert shown and set(shown) == {"red"} and len(shown) == lights.count("red")
        await shot(page, "02-red-only-phone")
        await page.click('.chip[data-light="red"]')  # again: every light
        await page.wait_for_function(
            f"() => document.querySelectorAll('.project').length === {len(codes)}")

        # Tap the item's step: its timeline.
        await page.locator(".step", has_text="管线迁改方案").click()
        await page.locator("#case .c-title", has_text="管线迁改方案").wait_for()
        timeline = await page.locator("#case").inner_text()
        assert "办理中" in timeline and "⏳ 待办理" in timeline and "李副局长" in timeline
        assert await page.locator("#board").is_hidden()
        assert await page.evaluate(NO_SIDEWAYS)
        await shot(page, "03-timeline-phone")
        await page.click("#back")
        await page.locator(".project").first.wait_for()
        assert errors == []


async def test_a_township_sees_exactly_its_subtree(running: Running,
                                                   chromium: Browser) -> None:
    url = await board_url(running, TANG)
    async with phone(chromium) as (page, errors):
        await page.goto(url)
        await page.locator(".project").first.wait_for()
        assert await page.eval_on_selector_all(".project", CODES) == ["KP-008"]
        assert await page.locator("#unit-box").is_hidden()  # one unit: no unit filter
        assert await page.locator(".unit-title").count() == 0
        await shot(page, "09-township-phone")
        assert errors == []


async def test_a_tampered_or_expired_init_data_shows_no_data(
        running: Running, chromium: Browser) -> None:
    url = await board_url(running, LIUXIAO)
    fields = dict(parse_qsl(init_data_of(url)))
    tampered = urlencode({**fields, "user": fields["user"].replace(str(LIUXIAO), str(LI))})
    expired = sign_init_data(SANDBOX_TOKEN, {"id": LIUXIAO, "first_name": "刘晓"},
                             int(fields["auth_date"]) - int(timedelta(days=2).total_seconds()))
    for name, init_data, says in (("04-tampered", tampered, "看板链接无效"),
                                  ("05-expired", expired, "看板会话已过期")):
        async with phone(chromium) as (page, errors):
            await page.goto(running.base_url + "/board#"
                            + launch_fragment(init_data, LIGHT_THEME))
            await page.locator("#notice", has_text=says).wait_for()
            assert await page.locator(".project").count() == 0
            assert await page.locator("#counts").is_hidden()
            await shot(page, name + "-phone")
            assert errors == []


async def test_the_dark_theme(running: Running, chromium: Browser) -> None:
    url = await board_url(running, LI, dark=True)
    async with phone(chromium, dark=True) as (page, errors):
        await page.goto(url)
        await page.locator(".project").first.wait_for()
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 15, 15)"  # the theme's secondary_bg_color
        text = await page.evaluate(
            "getComputedStyle(document.querySelector('.p-name')).color")
        assert text == "rgb(255, 255, 255)"
        await shot(page, "06-dark-phone")
        assert errors == []


async def test_the_chat_page_opens_the_board(running: Running, chromium: Browser) -> None:
    async with phone(chromium) as (page, errors):
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.goto(f"{running.base_url}/?as=liuxiao")
        await page.locator("#me-card", has_text="刘晓").wait_for()
        await page.click("#btn-board")
        frame = page.frame_locator("#board-frame")
        await frame.locator(".project").first.wait_for()
        await shot(page, "07-sandbox-overlay-desktop")
        await page.click("#board-close")
        assert await page.locator("#board-overlay").count() == 0
        # /board in the group: a link to the private chat, where /start board answers with
        # the web_app button, which opens the same board.
        await running.ctl.send_text(LIUXIAO, TIANTAI, "/board")
        await running.bot_said(TIANTAI, "私聊中打开")
        await page.click(f'#chat-list li[data-chat="{TIANTAI}"]')
        await page.locator(".key", has_text="在私聊中打开红绿灯看板").last.click()
        await running.bot_said(LIUXIAO, "逾期的排在前面")
        await page.wait_for_function(
            f"() => (document.querySelector('#chat-list li.active') || {{dataset: {{}}}})"
            f".dataset.chat === '{LIUXIAO}'")
        await page.locator(".key.web-app").last.click()
        await page.frame_locator("#board-frame").locator(".project").first.wait_for()
        await shot(page, "08-from-the-private-button-desktop")
        assert errors == []
