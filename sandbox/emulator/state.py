"""The emulated Telegram world: bot identity, users, chats, messages, files, callback queries.

Messages are stored as Bot API ``Message`` dicts, per chat, under per-chat message ids that start
at 1. Everything returned to callers is a deep copy, so stored state changes only through here.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import EmulatorConfig
from .media import StoredFile, file_path_for, new_file_ids

Json = dict[str, Any]
# Called with {"change": "added" | "edited" | "deleted", "chat_id", "message_id"} after a
# message changed; listeners run synchronously and must not raise.
Listener = Callable[[Json], None]


@dataclass
class UserRecord:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started: bool = False  # has written to the bot in private
    blocked: bool = False  # has blocked the bot

    def to_dict(self) -> Json:
        user: Json = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                user[key] = value
        return user


@dataclass
class ChatRecord:
    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    username: str | None = None
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    owner: int | None = None
    bot_member: bool = True
    bot_admin: bool = False
    messages: dict[int, Json] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: Json | None = None  # the custom keyboard the bot last showed

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass
class CallbackRecord:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float  # time.monotonic()
    answered: bool = False
    answer: Json | None = None


class World:
    """All in-memory state of one emulated bot's Telegram."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.bot = UserRecord(
            id=config.bot_id,
            first_name=config.bot_first_name,
            username=config.bot_username,
            is_bot=True,
        )
        self.privacy_mode = config.privacy_mode
        # Unix time for message dates: real time, or a host's own clock (the sandbox's moved
        # one); kept across reset().
        self.now: Callable[[], float] = time.time
        # Who wants to know when a message is added, edited or deleted (the sandbox page's
        # event stream); kept across reset().
        self.listeners: list[Listener] = []
        self.reset()

    def reset(self) -> None:
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.files: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[str]] = {}  # any size's file_id -> all sizes
        self.thumbnails: dict[str, str] = {}  # document file_id -> thumbnail file_id
        self.file_paths: dict[str, StoredFile] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[tuple[str, str], Json] = {}
        self.menu_buttons: dict[int | None, Json] = {}  # chat id (None: the default) -> button
        self.edits: list[Json] = []
        self.chat_actions: list[Json] = []
        self._file_number = 0
        self._media_group = 13_000_000_000_000_000

    # -- identity ------------------------------------------------------------------------------

    def bot_dict(self) -> Json:
        return self.bot.to_dict()

    def get_me(self) -> Json:
        return {
            **self.bot_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def is_bot_id(self, user_id: int | None) -> bool:
        return user_id == self.bot.id

    # -- users and chats -----------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> UserRecord:
        user = UserRecord(user_id, first_name, last_name, username, language_code)
        self.users[user_id] = user
        private = self.chats.get(user_id)
        if private is None:
            self.chats[user_id] = ChatRecord(user_id, "private", members={user_id})
        return user

    def add_chat(self, chat: ChatRecord) -> ChatRecord:
        self.chats[chat.id] = chat
        return chat

    def user_of(self, chat: ChatRecord) -> UserRecord:
        """The user of a private chat."""
        return self.users[chat.id]

    def find_chat(self, chat_id: int | str) -> ChatRecord | None:
        if isinstance(chat_id, str):
            if chat_id.startswith("@"):  # public groups only: users have no @chat_id
                name = chat_id[1:].lower()
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == name:
                        return chat
                return None
            try:
                chat_id = int(chat_id)
            except ValueError:
                return None
        return self.chats.get(chat_id)

    def chat_dict(self, chat: ChatRecord) -> Json:
        data: Json = {"id": chat.id, "type": chat.type}
        if chat.type == "private":
            user = self.users[chat.id]
            data["first_name"] = user.first_name
            if user.last_name:
                data["last_name"] = user.last_name
            if user.username:
                data["username"] = user.username
        else:
            data["title"] = chat.title or ""
            if chat.username:
                data["username"] = chat.username
        return data

    def chat_instance(self, chat: ChatRecord) -> str:
        digest = hashlib.sha256(f"{self.bot.id}:{chat.id}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big") >> 1)

    def is_member(self, chat: ChatRecord, user_id: int) -> bool:
        if self.is_bot_id(user_id):
            return chat.bot_member
        return user_id in chat.members or user_id in chat.admins or user_id == chat.owner

    # -- messages ------------------------------------------------------------------------------

    def add_message(self, chat: ChatRecord, sender: Json, content: Json) -> Json:
        """Store a new message in ``chat`` from ``sender`` and return a copy of it."""
        message: Json = {
            "message_id": chat.next_message_id,
            "from": copy.deepcopy(sender),
            "chat": self.chat_dict(chat),
            "date": int(self.now()),
            **copy.deepcopy(content),
        }
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = message
        self._changed("added", chat, message["message_id"])
        return copy.deepcopy(message)

    def get_message(self, chat: ChatRecord, message_id: int) -> Json | None:
        message = chat.messages.get(message_id)
        return copy.deepcopy(message) if message is not None else None

    def replace_message(self, chat: ChatRecord, message: Json) -> Json:
        """Store an edited version of a message (with ``edit_date``) and return a copy."""
        before = chat.messages[message["message_id"]]
        edited = copy.deepcopy(message)
        edited["edit_date"] = max(int(self.now()), before["date"])
        chat.messages[message["message_id"]] = edited
        self.edits.append({"chat_id": chat.id, "before": before, "after": copy.deepcopy(edited)})
        self._changed("edited", chat, message["message_id"])
        return copy.deepcopy(edited)

    def delete_message(self, chat: ChatRecord, message_id: int) -> bool:
        deleted = chat.messages.pop(message_id, None) is not None
        if deleted:
            self._changed("deleted", chat, message_id)
        return deleted

    def _changed(self, change: str, chat: ChatRecord, message_id: int) -> None:
        event = {"change": change, "chat_id": chat.id, "message_id": message_id}
        for listener in list(self.listeners):
            listener(event)

    def history(self, chat: ChatRecord) -> list[Json]:
        return [copy.deepcopy(chat.messages[key]) for key in sorted(chat.messages)]

    def reply_snapshot(self, chat: ChatRecord, message_id: int) -> Json | None:
        """The replied-to message as embedded in a reply (without its own reply)."""
        message = self.get_message(chat, message_id)
        if message is not None:
            message.pop("reply_to_message", None)
        return message

    def new_media_group_id(self) -> str:
        self._media_group += 1
        return str(self._media_group)

    # -- files ---------------------------------------------------------------------------------

    def store_file(
        self,
        kind: str,
        data: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        self._file_number += 1
        file_id, unique_id = new_file_ids(kind)
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            data=data,
            file_path=file_path_for(kind, self._file_number, file_name, mime_type),
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[file_id] = stored
        self.file_paths[stored.file_path] = stored
        return stored

    # -- callback queries ----------------------------------------------------------------------

    def new_callback(
        self, user_id: int, chat_id: int, message_id: int, data: str
    ) -> CallbackRecord:
        query_id = str(secrets.randbits(62) | (1 << 62))
        record = CallbackRecord(query_id, user_id, chat_id, message_id, data, time.monotonic())
        self.callbacks[query_id] = record
        return record
