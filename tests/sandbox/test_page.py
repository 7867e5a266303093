"""The chat page without a browser: it calls only routes that exist, loads nothing from the
network, and (where Node.js is installed) parses and renders Telegram entities correctly."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.clock import OffsetClock
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.server import Emulator
from sandbox.runner import WEB_DIR, SandboxSite

APP_JS = WEB_DIR / "app.js"


def page_files() -> dict[str, str]:
    return {name: (WEB_DIR / name).read_text(encoding="utf-8")
            for name in ("index.html", "app.js", "style.css")}


def installed_paths(tmp_path: Path) -> list[str]:
    emu = Emulator(EmulatorConfig(port=0))
    SandboxSite(emu, OffsetClock(), tmp_path / "clock.json", "Asia/Shanghai").install(emu.app)
    return [r.canonical for r in emu.app.router.resources()]


def test_the_script_calls_control_actions_that_exist() -> None:
    source = APP_JS.read_text(encoding="utf-8")
    actions = set(re.findall(r'control\("([a-z_]+)"', source))
    assert actions == {"chat", "send_text", "send_photo", "send_document"}
    known = set(Emulator(EmulatorConfig(port=0)).control.routes)
    assert actions <= known, actions - known
    assert "`/_control/${action}`" in source  # how control() builds the URL


# Routes the page uses when the sandbox has them, hiding what depends on them on a 404.
FEATURE_DETECTED = {"/sandbox/next", "/sandbox/lang"}


def test_the_script_calls_sandbox_routes_that_exist(tmp_path: Path) -> None:
    source = APP_JS.read_text(encoding="utf-8")
    used = set(re.findall(r"[\"'`](/sandbox/[a-z_]+)", source))
    assert used == {"/sandbox/info", "/sandbox/overview", "/sandbox/press", "/sandbox/file",
                    "/sandbox/advance", "/sandbox/sweep", "/sandbox/events",
                    "/sandbox/webapp"} | FEATURE_DETECTED
    paths = installed_paths(tmp_path)
    for path in used - FEATURE_DETECTED:
        assert any(p == path or p.startswith(path + "/") for p in paths), (path, paths)
    assert "/" in paths and any(p.startswith("/sandbox/static") for p in paths)


# src="https://…", href="//cdn…", url(http://…), @import: anything a browser would fetch.
REMOTE = r"""(?:src|href)\s*=\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import"""


def test_nothing_comes_from_the_network() -> None:
    for name, text in page_files().items():
        fetched = re.findall(REMOTE, text)
        assert fetched == [], f"{name} loads something from the network: {fetched}"
    html = page_files()["index.html"]
    assert '<script src="/sandbox/static/app.js">' in html
    assert 'href="/sandbox/static/style.css"' in html
    assert '<meta name="viewport"' in html  # phone-sized windows


NODE = shutil.which("node")

HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const stub = new Proxy(function () {}, {
  get: (target, key) => (key === Symbol.toPrimitive ? () => "" : stub),
  apply: () => stub,
  set: () => true,
});
const context = {
  console, Intl, JSON, Math, Date, Set, Promise, setTimeout: () => 0, clearTimeout: () => {},
  localStorage: { getItem: () => null, setItem: () => {} },
  fetch: () => new Promise(() => {}),
  document: stub, window: { innerWidth: 1200 },
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), context);
const cases = JSON.parse(process.argv[3]);
const out = cases.map(([text, entities]) => context.renderText(text, entities));
vm.runInContext("state.clockHistory = [[1000, 0], [2000, 3600]];", context);
out.push(String(context.sandboxDate(1500).getTime() / 1000));
out.push(String(context.sandboxDate(2500).getTime() / 1000));
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_the_script_parses_and_renders_entities(tmp_path: Path) -> None:
    assert NODE is not None
    subprocess.run([NODE, "--check", str(APP_JS)], check=True, capture_output=True)
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    cases = [
        ["🟡 节点 <b>", [{"type": "bold", "offset": 0, "length": 5}]],  # UTF-16: 🟡 is 2 units
        ["郑引导\n提醒", [{"type": "text_link", "offset": 0, "length": 3,
                            "url": "tg://user?id=100011"}]],
        ["审批 同意 x", [{"type": "bold", "offset": 0, "length": 5},
                         {"type": "italic", "offset": 3, "length": 2}]],
        ["quote", [{"type": "blockquote", "offset": 0, "length": 5}]],
        ["go", [{"type": "text_link", "offset": 0, "length": 2, "url": "javascript:alert(1)"}]],
        ["/report now", [{"type": "bot_command", "offset": 0, "length": 7}]],
    ]
    done = subprocess.run([NODE, str(harness), str(APP_JS), json.dumps(cases)],
                          check=True, capture_output=True, text=True, timeout=30)
    rendered = json.loads(done.stdout)
    assert rendered[0] == "<b>🟡 节点</b> &lt;b&gt;"
    assert rendered[1] == '<span class="mention" data-user="100011">郑引导</span>\n提醒'
    assert rendered[2] == "<b>审批 <i>同意</i></b> x"
    assert rendered[3] == "<blockquote>quote</blockquote>"
    assert 'href="#"' in rendered[4] and "javascript" not in rendered[4]
    assert rendered[5].startswith('<span class="command" data-command="/report">/report</span>')
    assert float(rendered[6]) == 1500 and float(rendered[7]) == 2500 + timedelta(hours=1).seconds
