"""Comments on a case: a reply to one of its cards is kept with the case."""

from __future__ import annotations

from datetime import datetime

from bot.domain.rules.errors import CaseClosed, EmptyText, StaleCard, TooLong
from bot.domain.rules.policy import Policy
from bot.domain.rules.vocabulary import CLOSED_CASE_STATES
from bot.domain.usecases.people import Actor
from storage.models import Case, Comment
from storage.store import Store


async def add_comment(store: Store, actor: Actor, case_id: int, text: str, *,
                      tg_chat_id: int | None, tg_message_id: int | None, now: datetime,
                      policy: Policy) -> Comment:
    case = await store.get(Case, case_id)
    if case is None:
        raise StaleCard()
    if case.state in CLOSED_CASE_STATES:
        raise CaseClosed(state=case.state)
    text = text.strip()
    if not text:
        raise EmptyText(what="comment")
    if len(text) > policy.reason_max_chars:
        raise TooLong(length=len(text), limit=policy.reason_max_chars)
    comment = await store.save(Comment(case_id=case_id, author_id=actor.id, text=text,
                                       created_at=now, tg_chat_id=tg_chat_id,
                                       tg_message_id=tg_message_id))
    await store.audit(at=now, actor_id=actor.id, action="case.commented",
                      subject=f"case:{case_id}", data={"comment": comment.id})
    await store.flush()
    return comment
