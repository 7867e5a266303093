"""aiogram routers, one per feature, included in this order:

1. scenes (a conversation in progress sees its own messages first),
2. common (/start, /help, /cancel), 3. projects, 4. reports, 5. approvals,
6. fallback (unknown commands and buttons, stray messages) last.
"""

from __future__ import annotations

from aiogram import Dispatcher, Router
from aiogram.fsm.scene import SceneRegistry

from bot.handlers import approvals, common, fallback, projects, reports
from bot.scenarios.report_prompt import ReportPromptScene
from bot.scenarios.return_reason import ReturnReasonScene


def setup_routers(dispatcher: Dispatcher) -> None:
    scenes = Router(name="scenes")
    dispatcher.include_router(scenes)
    # The registry sits on the dispatcher so every handler can be given ``scenes``.
    SceneRegistry(dispatcher).add(ReportPromptScene, ReturnReasonScene, router=scenes)
    for feature in (common, projects, reports, approvals, fallback):
        dispatcher.include_router(feature.build_router())
