"""Helpers handlers share: the project of this group, and files attached to a message."""

from __future__ import annotations

from aiogram.types import Message

from bot.domain.rules.errors import NoProjectHere
from bot.domain.rules.vocabulary import AttachmentKind
from bot.domain.usecases.access import Place
from bot.domain.usecases.reporting import FileRef
from storage.models import Project
from storage.store import Store

GROUP_TYPES = frozenset({"group", "supergroup"})


async def project_here(store: Store, message: Message) -> Project:
    """The key project this group works on; a private chat or an unlinked group is refused."""
    project = None
    if message.chat.type in GROUP_TYPES:
        project = await store.project_by_tg_chat(message.chat.id)
    if project is None:
        raise NoProjectHere(private=message.chat.type == "private")
    return project


async def project_named_or_here(store: Store, message: Message, words: list[str]
                                 ) -> tuple[Project, list[str]]:
    """``CODE rest…`` names a project anywhere; otherwise the words are about this group's."""
    if words and (named := await store.project_by_code(words[0].upper())) is not None:
        return named, words[1:]
    return await project_here(store, message), words


async def place_of(store: Store, message: Message) -> Place:
    """Where the message was typed, for the rules of what may be shown there."""
    if message.chat.type not in GROUP_TYPES:
        return Place(private=True)
    chat = await store.chat_by_tg(message.chat.id)
    project = await store.project_by_tg_chat(message.chat.id)
    return Place(private=False, project_id=project.id if project else None,
                 known=chat is not None)


def files_of(message: Message | None) -> list[FileRef]:
    """A photo (its largest size) or a document, by file_id; nothing is downloaded."""
    if message is None:
        return []
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return [FileRef(AttachmentKind.PHOTO, largest.file_id, largest.file_unique_id,
                        file_size=largest.file_size)]
    if message.document:
        doc = message.document
        return [FileRef(AttachmentKind.DOCUMENT, doc.file_id, doc.file_unique_id,
                        file_name=doc.file_name, mime_type=doc.mime_type,
                        file_size=doc.file_size)]
    return []
