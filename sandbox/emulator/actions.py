"""What users do: write, send files, press buttons, block the bot; with group privacy rules."""

from __future__ import annotations

from typing import Any

from .api import member_dict
from .entities import detect_entities, entity_text
from .media import Upload, placeholder_png
from .messaging import Composer
from .state import ChatRecord, UserRecord, World
from .updates import UpdateQueue

Json = dict[str, Any]


class ActionError(ValueError):
    """A user action that cannot happen (unknown user, not a member, no such button...)."""


class UserActions:
    """Users' side of the emulated Telegram; each action may produce an update for the bot."""

    def __init__(self, world: World, queue: UpdateQueue) -> None:
        self.world = world
        self.queue = queue
        self.compose = Composer(world)

    # -- setup ---------------------------------------------------------------------------------

    def user(self, user_id: int) -> UserRecord:
        user = self.world.users.get(user_id)
        if user is None:
            raise ActionError(f"unknown user {user_id}; create it first")
        return user

    def chat(self, chat_id: int) -> ChatRecord:
        chat = self.world.chats.get(chat_id)
        if chat is None:
            raise ActionError(f"unknown chat {chat_id}; create it first")
        return chat

    def create_chat(
        self,
        chat_id: int,
        chat_type: str,
        title: str,
        members: list[int],
        admins: list[int],
        bot_member: bool,
        bot_admin: bool,
        owner: int | None = None,
        username: str | None = None,
    ) -> Json:
        if chat_type == "private":
            return self.world.chat_dict(self.chat(chat_id))
        if chat_type not in ("group", "supergroup"):
            raise ActionError(f"unsupported chat type {chat_type!r}")
        if chat_id >= 0 or (chat_type == "supergroup" and not str(chat_id).startswith("-100")):
            raise ActionError("group ids are negative; supergroup ids look like -100xxxxxxxxxx")
        for user_id in [*members, *admins, *([owner] if owner is not None else [])]:
            self.user(user_id)
        chat = ChatRecord(
            id=chat_id,
            type=chat_type,
            title=title,
            username=username,
            members=set(members) | set(admins),
            admins=set(admins),
            owner=owner,
            bot_member=bot_member or bot_admin,
            bot_admin=bot_admin,
        )
        if owner is not None:
            chat.members.add(owner)
        self.world.add_chat(chat)
        if chat.bot_member:
            adder = owner if owner is not None else next(iter(sorted(chat.admins)), None)
            if adder is None:
                adder = next(iter(sorted(chat.members)), None)
            if adder is not None:
                status = "administrator" if bot_admin else "member"
                self._my_chat_member(chat, adder, "left", status)
        return self.world.chat_dict(chat)

    def _my_chat_member(self, chat: ChatRecord, actor: int, old: str, new: str) -> int | None:
        bot = self.world.bot_dict()
        payload = {
            "chat": self.world.chat_dict(chat),
            "from": self.user(actor).to_dict(),
            "date": int(self.world.now()),
            "old_chat_member": member_dict(old, bot),
            "new_chat_member": member_dict(new, bot),
        }
        return self.queue.push("my_chat_member", payload)

    def block_bot(self, user_id: int, blocked: bool = True) -> Json:
        user = self.user(user_id)
        if user.blocked != blocked:
            user.blocked = blocked
            chat = self.world.chats[user_id]
            if blocked:
                self._my_chat_member(chat, user_id, "member", "kicked")
            else:
                self._my_chat_member(chat, user_id, "kicked", "member")
        return user.to_dict()

    # -- messages ------------------------------------------------------------------------------

    def _sender_chat(self, user_id: int, chat_id: int) -> tuple[UserRecord, ChatRecord]:
        user = self.user(user_id)
        chat = self.chat(chat_id)
        if chat.type == "private" and chat.id != user_id:
            raise ActionError("a private chat's id is the user's id")
        if chat.is_group and not self.world.is_member(chat, user_id):
            raise ActionError(f"user {user_id} is not a member of chat {chat_id}")
        return user, chat

    def _post(
        self, user: UserRecord, chat: ChatRecord, content: Json, reply_to: int | None
    ) -> Json:
        if reply_to is not None:
            snapshot = self.world.reply_snapshot(chat, reply_to)
            if snapshot is None:
                raise ActionError(f"no message {reply_to} in chat {chat.id}")
            content = {"reply_to_message": snapshot, **content}
        if chat.type == "private":
            user.started = True
            if user.blocked:  # writing to a blocked bot means restarting it
                self.block_bot(user.id, False)
        message = self.world.add_message(chat, user.to_dict(), content)
        update_id = self.queue.push("message", message) if self.visible(chat, message) else None
        return {"message": message, "update_id": update_id, "delivered": update_id is not None}

    def visible(self, chat: ChatRecord, message: Json) -> bool:
        """Whether the bot receives this message (group privacy mode)."""
        if chat.type == "private":
            return True
        if not chat.bot_member:
            return False
        if not self.world.privacy_mode or chat.bot_admin:
            return True
        text = message.get("text") or message.get("caption") or ""
        entities = message.get("entities") or message.get("caption_entities") or []
        username = (self.world.bot.username or "").lower()
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            _, _, target = command.partition("@")
            return not target or target.lower() == username
        replied = message.get("reply_to_message")
        if replied and self.world.is_bot_id(replied.get("from", {}).get("id")):
            return True
        for entity in entities:
            if entity["type"] == "mention" and entity_text(text, entity).lower() == f"@{username}":
                return True
            if entity["type"] == "text_mention" and self.world.is_bot_id(entity["user"]["id"]):
                return True
        members = message.get("new_chat_members") or []
        left = message.get("left_chat_member") or {}
        return any(self.world.is_bot_id(m.get("id")) for m in members) or self.world.is_bot_id(
            left.get("id")
        )

    def send_text(self, user_id: int, chat_id: int, text: str, reply_to: int | None) -> Json:
        user, chat = self._sender_chat(user_id, chat_id)
        if not text:
            raise ActionError("text is empty")
        content: Json = {"text": text}
        entities = detect_entities(text)
        if entities:
            content["entities"] = entities
        return self._post(user, chat, content, reply_to)

    def _caption(self, caption: str | None) -> Json:
        if not caption:
            return {}
        content: Json = {"caption": caption}
        entities = detect_entities(caption)
        if entities:
            content["caption_entities"] = entities
        return content

    def send_photo(
        self,
        user_id: int,
        chat_id: int,
        caption: str | None,
        content: bytes | None,
        reply_to: int | None,
    ) -> Json:
        user, chat = self._sender_chat(user_id, chat_id)
        data = content if content is not None else placeholder_png()
        try:
            photo = self.compose.photo(Upload("photo.jpg", "image/jpeg", data))
        except Exception as error:
            raise ActionError(f"not a picture Telegram accepts: {error}") from error
        return self._post(user, chat, {"photo": photo, **self._caption(caption)}, reply_to)

    def send_document(
        self,
        user_id: int,
        chat_id: int,
        content: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None,
        reply_to: int | None,
    ) -> Json:
        user, chat = self._sender_chat(user_id, chat_id)
        if not content:
            raise ActionError("a document must not be empty")
        stored = self.world.store_file("document", content, file_name, mime_type)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": stored.size,
        }
        return self._post(user, chat, {"document": document, **self._caption(caption)}, reply_to)

    # -- buttons -------------------------------------------------------------------------------

    def press(self, user_id: int, chat_id: int, message_id: int, data: str, forge: bool) -> Json:
        user, chat = self._sender_chat(user_id, chat_id)
        message = self.world.get_message(chat, message_id)
        if message is None:
            raise ActionError(f"no message {message_id} in chat {chat_id}")
        if not forge:
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            datas = {button.get("callback_data") for row in rows for button in row}
            if data not in datas:
                raise ActionError(f"message {message_id} has no button with callback_data {data!r}")
        record = self.world.new_callback(user_id, chat_id, message_id, data)
        query = {
            "id": record.id,
            "from": user.to_dict(),
            "message": message,
            "chat_instance": self.world.chat_instance(chat),
            "data": data,
        }
        update_id = self.queue.push("callback_query", query)
        delivered = update_id is not None
        return {"update_id": update_id, "callback_query_id": record.id, "delivered": delivered}
