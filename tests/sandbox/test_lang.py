"""The page's 中文 / EN switch sets the persona's bot language, as their /lang would."""

from __future__ import annotations

from tests.sandbox.conftest import LI, Running, text_of

HUANG = 100015  # an applicant, not one of the bureau's people


async def test_the_page_sets_a_personas_language(sandbox: Running) -> None:
    for body, status in (({"user_id": LI, "lang": "fr"}, 400), ({"lang": "en"}, 400),
                         ({"user_id": "x", "lang": "en"}, 400),
                         ({"user_id": HUANG, "lang": "en"}, 404)):
        assert (await sandbox.post("/sandbox/lang", body, status=status))["error"]
    await sandbox.ctl.send_text(LI, LI, "/help")
    assert "👋 李副局长，您好" in text_of(await sandbox.bot_said(LI, "/help"))

    done = await sandbox.post("/sandbox/lang", {"user_id": LI, "lang": "en"})
    assert done == {"ok": True, "user_id": LI, "lang": "en"}
    await sandbox.ctl.send_text(LI, LI, "/help")
    assert "/lang — 中文 / English" in text_of(await sandbox.bot_said(LI, "this is Greenlight"))

    await sandbox.post("/sandbox/lang", {"user_id": LI, "lang": "zh"})
    await sandbox.ctl.send_text(LI, LI, "/projects")
    assert "重点项目 8 个" in text_of(await sandbox.bot_said(LI, "KP-004 雁城危房重建"))
