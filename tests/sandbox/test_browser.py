"""The chat page in a real (headless) Chromium, driven over the DevTools protocol: type and
press Enter, answer a force-reply prompt, press an inline button, move the clock; no script
errors. Skipped where Chromium is not installed (it is not by default)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.sandbox.conftest import Running

CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)
# CI installs Chromium and sets GREENLIGHT_REQUIRE_BROWSER, so there this test cannot skip.
REQUIRED = os.environ.get("GREENLIGHT_REQUIRE_BROWSER") == "1"
if REQUIRED and CHROMIUM is None:
    raise RuntimeError("GREENLIGHT_REQUIRE_BROWSER=1 but Chromium is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


class Tab:
    """Just enough of the DevTools protocol: evaluate JavaScript, wait for a condition."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.errors: list[Any] = []

    async def read(self) -> None:
        async for frame in self.ws:
            data = json.loads(frame.data)
            if "id" in data:
                self.waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown" or (
                    data.get("method") == "Runtime.consoleAPICalled"
                    and data["params"]["type"] == "error"):
                self.errors.append(data["params"])

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        answer = await asyncio.wait_for(future, 15)
        assert "error" not in answer, answer
        result: dict[str, Any] = answer["result"]
        return result

    async def js(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                                 returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def until(self, expression: str, what: str, patience: float = 10.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        while loop.time() < deadline:  # (a page still loading has no such element yet)
            value = await self.js(guarded)
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"the page did not show {what} in {patience:g} s")

    async def send(self, text: str) -> None:
        await self.js(f"""(() => {{
            const input = document.getElementById('input');
            input.value = {json.dumps(text)};
            input.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}}));
        }})()""")

    async def bot_says(self, part: str) -> None:
        await self.until(f"""[...document.querySelectorAll('.row.bot .text')]
                             .some(e => e.textContent.includes({json.dumps(part)}))""",
                         f"a bot message with {part!r}")


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path) -> AsyncIterator[Tab]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium"
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,900",
        "about:blank", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):  # up to 15 s
            if port_file.exists() and port_file.read_text().strip():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("Chromium did not open its DevTools port")
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(url, max_msg_size=0) as ws:
                tab = Tab(ws)
                reader = asyncio.create_task(tab.read())
                await tab.call("Runtime.enable")
                await tab.call("Page.enable")
                try:
                    yield tab
                finally:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_a_visitor_reports_answers_a_prompt_approves_and_moves_time(
        sandbox: Running, tmp_path: Path) -> None:
    async with chromium(tmp_path) as tab:
        await tab.call("Page.navigate", url=f"{sandbox.base_url}/?as=liuxiao&chat=KP-002")
        await tab.until("document.getElementById('chat-title').textContent === '天台山公园工作群'",
                        "the group 天台山公园工作群")
        await tab.send("/report 浏览器里的汇报")
        await tab.bot_says("浏览器里的汇报")
        assert await tab.js("document.getElementById('input').value") == ""

        await tab.js("openChat(-1001000000003)")  # 康乐公园工作群
        await tab.until("document.getElementById('chat-title').textContent === '康乐公园工作群'",
                        "the group 康乐公园工作群")
        await tab.send("/report")
        await tab.until("!document.getElementById('reply-bar').classList.contains('hidden')",
                        "the reply opened on the force-reply prompt")
        await tab.send("设计单位已收到管线资料")
        await tab.bot_says("设计单位已收到管线资料")

        await tab.send("/submit 浏览器提交的方案")
        await tab.bot_says("请选择事项类型")
        await tab.js("""(() => { const rows = [...document.querySelectorAll('.row.bot')]
                             .filter(r => r.textContent.includes('请选择事项类型'));
                         [...rows[rows.length - 1].querySelectorAll('.key')]
                             .find(k => k.textContent.includes('一般事项审批')).click(); })()""")
        await tab.bot_says("一般事项审批 #")
        await tab.js("""(() => { const s = document.getElementById('act-as');
                         s.value = '100003'; s.dispatchEvent(new Event('change')); })()""")
        await tab.until("document.getElementById('me-card').textContent.includes('何副局长')",
                        "何副局长 acting")
        await tab.js("openChat(100003)")
        await tab.bot_says("浏览器提交的方案")
        await tab.js("""(() => { const rows = [...document.querySelectorAll('.row.bot')]
                             .filter(r => r.textContent.includes('浏览器提交的方案'));
                         [...rows[rows.length - 1].querySelectorAll('.key')]
                             .find(k => k.textContent.includes('同意')).click(); })()""")
        await tab.until("[...document.querySelectorAll('.toast')]"
                        ".some(t => t.textContent.includes('已同意'))", "the callback answer")

        await tab.js("document.getElementById('btn-day').click()")
        await tab.until("[...document.querySelectorAll('.toast')]"
                        ".some(t => t.textContent.includes('+1 工作日'))", "the clock moved")
        assert tab.errors == []
    info = await sandbox.get("/sandbox/info")
    assert info["clock"]["offset_seconds"] > 0
