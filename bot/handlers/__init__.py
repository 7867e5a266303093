"""aiogram routers, one per feature, included in this order:

1. scenes (a conversation in progress sees its own messages first), then board (/board, and
/start board before the plain /start),
2. common (/start, /help, /cancel, then /lang), 3. projects (and milestones: /done, /due,
/status), 4. reports, 5. approvals, 6. pending, 7. away, 8. comments (replies to case cards),
9. fallback (unknown commands and buttons,
stray messages) last; supervision (urge answers, /urges), supervision items (/dc),
inquiries (/ask, /asks), stats (/stats) and query (/query CODE, for applicants) sit before
comments.
"""

from __future__ import annotations

from aiogram import Dispatcher, Router
from aiogram.fsm.scene import SceneRegistry

from bot.handlers import (
    approvals,
    away,
    board,
    calendar,
    comments,
    common,
    fallback,
    inquiries,
    language,
    milestones,
    missing,
    pending,
    projects,
    query,
    reports,
    stats,
    supervision,
    supervision_items,
)
from bot.scenarios.decision_comment import ApproveCommentScene
from bot.scenarios.inquiry_outcome import InquiryOutcomeScene
from bot.scenarios.report_prompt import ReportPromptScene
from bot.scenarios.resubmit import ResubmitScene
from bot.scenarios.return_reason import BulkReturnScene, ReturnReasonScene
from bot.scenarios.submit import SubmitScene
from bot.scenarios.supervision_items import FeedbackScene, RegisterItemScene, SendBackScene
from bot.scenarios.transfer_reason import TransferReasonScene
from bot.scenarios.urge_answer import UrgeAnswerScene


def setup_routers(dispatcher: Dispatcher) -> None:
    scenes = Router(name="scenes")
    dispatcher.include_router(scenes)
    # The registry sits on the dispatcher so every handler can be given ``scenes``.
    SceneRegistry(dispatcher).add(ReportPromptScene, ReturnReasonScene, BulkReturnScene,
                                  ApproveCommentScene, ResubmitScene, TransferReasonScene,
                                  SubmitScene, UrgeAnswerScene, InquiryOutcomeScene,
                                  RegisterItemScene, FeedbackScene, SendBackScene, router=scenes)
    for feature in (board, common, language, projects, milestones, reports, approvals, pending,
                    away, missing, supervision, supervision_items, inquiries, stats, query,
                    calendar, comments, fallback):
        dispatcher.include_router(feature.build_router())
