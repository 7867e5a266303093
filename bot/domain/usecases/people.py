"""Who is acting, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.rules.errors import NotAllowed, NotRegistered, UnknownLanguage
from bot.domain.rules.org_file import LOCALES
from bot.domain.rules.vocabulary import MemberRole, Role
from bot.domain.usecases.scope import within_reach
from storage.models import Person, Project
from storage.store import Store


@dataclass(frozen=True)
class Actor:
    """The registered person behind an update. ``id`` is a plain copy, readable even after
    the update's transaction was rolled back."""

    id: int
    person: Person
    roles: frozenset[str]

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)


async def identify(store: Store, tg_user_id: int) -> Actor | None:
    found = await store.person_with_roles(tg_user_id)
    if found is None:
        return None
    person, roles = found
    if not person.active or person.id is None:
        return None
    return Actor(person.id, person, frozenset(roles))


def require_actor(actor: Actor | None, tg_user_id: int) -> Actor:
    if actor is None:
        raise NotRegistered(tg_user_id=tg_user_id)
    return actor


async def may_report(store: Store, actor: Actor, project: Project) -> bool:
    """Handlers and guides of the project, its leader, its section's handlers, admins; each
    only within their unit's reach."""
    if not await within_reach(store, actor.person, project.unit_id):
        return False
    if actor.has(Role.ADMIN) or actor.id == project.leader_id:
        return True
    if await store.is_member(project.id, actor.id):
        return True
    return actor.has(Role.HANDLER) and actor.person.section_id == project.section_id


async def require_reporter(store: Store, actor: Actor, project: Project) -> None:
    if not await may_report(store, actor, project):
        raise NotAllowed(action="report", project=project.code)


async def require_submitter(store: Store, actor: Actor, project: Project) -> None:
    """Items for approval come from the project's handlers (or its section's, or admins)."""
    if not await within_reach(store, actor.person, project.unit_id):
        raise NotAllowed(action="submit", project=project.code)
    if actor.has(Role.ADMIN):
        return
    handlers = await store.members(project.id, MemberRole.HANDLER)
    if any(p.id == actor.id for p in handlers):
        return
    if actor.has(Role.HANDLER) and actor.person.section_id == project.section_id:
        return
    raise NotAllowed(action="submit", project=project.code)


def require_role(actor: Actor, *roles: Role, action: str) -> None:
    if not actor.has(*roles):
        raise NotAllowed(action=action)


async def choose_locale(store: Store, person: Person, locale: str, *, now: datetime) -> bool:
    """The language the bot speaks to ``person`` from now on, in private and in everything
    sent to them alone (cards, nudges); their own choice, which an org import leaves be.
    Returns whether it changed. Flushes; the caller commits."""
    if locale not in LOCALES:
        raise UnknownLanguage(text=locale)
    changed = person.locale != locale
    if changed or not person.locale_chosen:
        person.locale, person.locale_chosen = locale, True
        await store.save(person)
        await store.audit(at=now, actor_id=person.id, action="person.locale",
                          subject=f"person:{person.id}", data={"locale": locale})
    return changed


async def person_by_telegram_id(store: Store, tg_user_id: int) -> Person | None:
    """The registered, active person with this Telegram id."""
    actor = await identify(store, tg_user_id)
    return actor.person if actor is not None else None
