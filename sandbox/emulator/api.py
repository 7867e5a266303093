"""Bot API method handlers: what Telegram does for each method the bot calls."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .config import EmulatorConfig
from .errors import (
    MESSAGE_NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiError,
    bad_request,
    conflict,
    required,
    retry_after,
)
from .limits import FloodControl
from .media import Upload
from .messaging import Composer
from .state import ChatRecord, World
from .updates import UpdateQueue
from .webhook import Webhook

Json = dict[str, Any]


@dataclass
class Described:
    """A result that Telegram sends with a ``description`` next to it."""

    result: Any
    description: str


Handler = Callable[[Json], Awaitable[Any]]
UPLOADS_KEY = "__uploads__"  # request file parts, for sendMediaGroup's attach:// items

CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
SCOPE_TYPES = frozenset(
    [
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    ]
)
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_CAPTION_MEDIA = ("photo", "document", "video", "audio", "animation", "voice")


def _int(params: Json, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f'parameter "{name}" must be a Number')
    return value


def member_dict(status: str, user: Json) -> Json:
    """A ``ChatMember`` dict of the given status."""
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = {
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": True,
            "can_restrict_members": True,
            "can_promote_members": False,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
            "can_pin_messages": True,
        }
        return {"status": "administrator", "user": user, **rights}
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    return {"status": status, "user": user}


class BotApi:
    """The emulated methods; :meth:`call` runs one by its declared name."""

    def __init__(
        self,
        config: EmulatorConfig,
        world: World,
        queue: UpdateQueue,
        webhook: Webhook,
        flood: FloodControl,
    ) -> None:
        self.config = config
        self.world = world
        self.queue = queue
        self.webhook = webhook
        self.flood = flood
        self.compose = Composer(world)
        self.handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.close,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "getChatMemberCount": self.get_chat_member_count,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendMediaGroup": self.send_media_group,
            "sendChatAction": self.send_chat_action,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "getFile": self.get_file,
        }

    async def call(self, method: str, params: Json) -> Any:
        handler = self.handlers.get(method)
        if handler is None:
            raise ApiError(501, f"Not Implemented: method {method} is not emulated")
        return await handler(params)

    # -- identity and polling ------------------------------------------------------------------

    async def get_me(self, params: Json) -> Any:
        return self.world.get_me()

    async def log_out(self, params: Json) -> Any:
        return True

    async def close(self, params: Json) -> Any:
        return True

    async def get_updates(self, params: Json) -> Any:
        if self.webhook.active:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        offset = _int(params, "offset")
        limit = _int(params, "limit")
        timeout = _int(params, "timeout") or 0
        limit = 100 if limit is None else min(max(limit, 1), 100)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.queue.set_allowed(allowed)
        if offset is not None:
            self.queue.confirm(offset)
        wait = min(max(timeout, 0), self.config.long_poll_max_timeout)
        return await self.queue.long_poll(limit, wait)

    # -- webhook -------------------------------------------------------------------------------

    async def set_webhook(self, params: Json) -> Any:
        url = params.get("url")
        if url is None:
            raise required("url")
        if url == "":
            return await self.delete_webhook(params)
        scheme = str(url).split("://", 1)[0].lower() if "://" in str(url) else ""
        if scheme != "https" and not (scheme == "http" and self.config.webhook_allow_http):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and secret != "" and not _SECRET.match(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        connections = _int(params, "max_connections") or 40
        if not 1 <= connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.queue.set_allowed(allowed)
        if params.get("drop_pending_updates"):
            self.queue.drop_pending()
        same = (
            self.webhook.url == url
            and self.webhook.secret_token == (secret or None)
            and self.webhook.max_connections == connections
        )
        self.queue.terminate_polls()
        self.webhook.set(str(url), secret or None, connections, params.get("ip_address"))
        return Described(True, "Webhook is already set" if same else "Webhook was set")

    async def delete_webhook(self, params: Json) -> Any:
        was_set = self.webhook.active
        if params.get("drop_pending_updates"):
            self.queue.drop_pending()
        await self.webhook.delete()
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def get_webhook_info(self, params: Json) -> Any:
        return self.webhook.info()

    # -- commands ------------------------------------------------------------------------------

    def _scope_key(self, params: Json) -> tuple[str, Json, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        clean: Json = {"type": scope["type"]}
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            if "chat_id" not in scope:
                raise bad_request("can't parse BotCommandScope JSON object")
            chat = self.compose.chat(scope["chat_id"])
            clean["chat_id"] = chat.id
        if scope["type"] == "chat_member":
            user_id = scope.get("user_id")
            if not isinstance(user_id, int) or user_id not in self.world.users:
                raise bad_request("user not found")
            clean["user_id"] = user_id
        language = params.get("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", str(language)):
            raise bad_request("invalid language code specified")
        return json.dumps(clean, sort_keys=True), clean, str(language)

    async def set_my_commands(self, params: Json) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise required("commands")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        clean = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name = str(command.get("command", "")).lstrip("/")
            description = str(command.get("description", ""))
            if not _COMMAND.match(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        key, scope, language = self._scope_key(params)
        if clean:
            self.world.commands[(key, language)] = {
                "scope": scope,
                "language_code": language,
                "commands": clean,
            }
        else:
            self.world.commands.pop((key, language), None)
        return True

    async def get_my_commands(self, params: Json) -> Any:
        key, _, language = self._scope_key(params)
        stored = self.world.commands.get((key, language))
        return copy.deepcopy(stored["commands"]) if stored else []

    async def delete_my_commands(self, params: Json) -> Any:
        key, _, language = self._scope_key(params)
        self.world.commands.pop((key, language), None)
        return True

    async def set_chat_menu_button(self, params: Json) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands",
                                                                        "web_app"):
            raise bad_request("can't parse menu button JSON object")
        if button["type"] == "web_app":
            web_app = button.get("web_app")
            if not isinstance(button.get("text"), str) or not button["text"]:
                raise bad_request("BUTTON_TEXT_INVALID")
            if not (isinstance(web_app, dict) and isinstance(web_app.get("url"), str)
                    and web_app["url"].startswith("https://")):
                raise bad_request("BUTTON_URL_INVALID")
        chat_id = params.get("chat_id")
        if chat_id is not None:
            chat = self.compose.chat(chat_id)
            if chat.type != "private":
                raise bad_request("chat is not private")
            chat_id = chat.id
        self.world.menu_buttons[chat_id] = dict(button)
        return True

    async def get_chat_menu_button(self, params: Json) -> Any:
        chat_id = params.get("chat_id")
        buttons = self.world.menu_buttons
        if chat_id is not None and chat_id in buttons:
            return buttons[chat_id]
        return buttons.get(None, {"type": "commands"})

    # -- chats and members ---------------------------------------------------------------------

    async def get_chat(self, params: Json) -> Any:
        chat = self.compose.chat(params.get("chat_id"))
        info: Json = {
            **self.world.chat_dict(chat),
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.is_group:
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_video_notes": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
                "can_manage_topics": False,
            }
        return info

    def member(self, chat: ChatRecord, user_id: int) -> Json:
        """A ``ChatMember`` dict for ``user_id`` in ``chat``."""
        if self.world.is_bot_id(user_id):
            user = self.world.bot_dict()
            if chat.type == "private":
                status = "kicked" if self.world.user_of(chat).blocked else "member"
                return member_dict(status, user)
            if not chat.bot_member:
                return {"status": "left", "user": user}
            return member_dict("administrator" if chat.bot_admin else "member", user)
        record = self.world.users.get(user_id)
        if record is None:
            raise bad_request("user not found")
        user = record.to_dict()
        if chat.type == "private":
            return member_dict("member" if chat.id == user_id else "left", user)
        if user_id == chat.owner:
            return member_dict("creator", user)
        if user_id in chat.admins:
            return member_dict("administrator", user)
        if user_id in chat.members:
            return member_dict("member", user)
        return {"status": "left", "user": user}

    async def get_chat_member(self, params: Json) -> Any:
        chat = self.compose.chat(params.get("chat_id"))
        user_id = _int(params, "user_id")
        if user_id is None:
            raise required("user_id")
        return self.member(chat, user_id)

    async def get_chat_administrators(self, params: Json) -> Any:
        chat = self.compose.chat(params.get("chat_id"))
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        ids = ([chat.owner] if chat.owner is not None else []) + sorted(chat.admins - {chat.owner})
        admins = [self.member(chat, user_id) for user_id in ids if user_id in self.world.users]
        if chat.bot_admin:
            admins.append(self.member(chat, self.world.bot.id))
        return admins

    async def get_chat_member_count(self, params: Json) -> Any:
        chat = self.compose.chat(params.get("chat_id"))
        if chat.type == "private":
            return 2
        humans = chat.members | chat.admins | ({chat.owner} if chat.owner is not None else set())
        return len(humans) + (1 if chat.bot_member else 0)

    # -- sending -------------------------------------------------------------------------------

    def _check_flood(self, chat: ChatRecord, count: int = 1) -> None:
        wait = self.flood.check(chat.id, chat.is_group, count)
        if wait is not None:
            raise retry_after(wait)

    @staticmethod
    def _options(params: Json) -> Json:
        extra: Json = {}
        if params.get("protect_content"):
            extra["has_protected_content"] = True
        return extra

    async def send_message(self, params: Json) -> Any:
        markup = self.compose.markup(None, params.get("reply_markup"))
        text, entities = self.compose.text(params)
        chat = self.compose.writable_chat(params.get("chat_id"))
        self.compose.check_text(text)
        reply = self.compose.reply_to(chat, params)
        self._check_flood(chat)
        self.compose.markup(chat, params.get("reply_markup"))
        content: Json = {**reply, "text": text}
        if entities:
            content["entities"] = entities
        preview = params.get("link_preview_options")
        if isinstance(preview, dict) and any(e["type"] in ("url", "text_link") for e in entities):
            content["link_preview_options"] = preview
        if markup:
            content["reply_markup"] = markup
        content.update(self._options(params))
        return self.world.add_message(chat, self.world.bot_dict(), content)

    async def send_photo(self, params: Json) -> Any:
        markup = self.compose.markup(None, params.get("reply_markup"))
        caption = self.compose.caption(params)
        chat = self.compose.writable_chat(params.get("chat_id"))
        photo = self.compose.photo(params.get("photo"))
        reply = self.compose.reply_to(chat, params)
        self._check_flood(chat)
        self.compose.markup(chat, params.get("reply_markup"))
        content: Json = {**reply, "photo": photo, **caption}
        if params.get("show_caption_above_media") and caption:
            content["show_caption_above_media"] = True
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        if markup:
            content["reply_markup"] = markup
        content.update(self._options(params))
        return self.world.add_message(chat, self.world.bot_dict(), content)

    async def send_document(self, params: Json) -> Any:
        markup = self.compose.markup(None, params.get("reply_markup"))
        caption = self.compose.caption(params)
        chat = self.compose.writable_chat(params.get("chat_id"))
        document = self.compose.document(params.get("document"), params.get("thumbnail"))
        reply = self.compose.reply_to(chat, params)
        self._check_flood(chat)
        self.compose.markup(chat, params.get("reply_markup"))
        content: Json = {**reply, "document": document, **caption}
        if markup:
            content["reply_markup"] = markup
        content.update(self._options(params))
        return self.world.add_message(chat, self.world.bot_dict(), content)

    async def send_media_group(self, params: Json) -> Any:
        media = params.get("media")
        uploads: dict[str, Upload] = params.get(UPLOADS_KEY, {})
        if media is None:
            raise required("media")
        if not isinstance(media, list) or not media:
            raise bad_request("there are no messages to send")
        if len(media) > 10:
            raise bad_request("too many messages to send as an album")
        kinds = []
        for item in media:
            if not isinstance(item, dict) or "type" not in item:
                raise bad_request("can't parse InputMedia JSON object")
            kind = item["type"]
            if kind in ("animation", "voice_note"):
                raise bad_request(
                    f"can't parse InputMedia: type \"{kind}\" can't be used in sendMediaGroup"
                )
            if kind not in ("photo", "document"):
                raise bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
            kinds.append(kind)
        if "document" in kinds and len(set(kinds)) > 1:
            raise bad_request("document can't be mixed with other media types")
        captions = [self.compose.caption(item) for item in media]
        chat = self.compose.writable_chat(params.get("chat_id"))
        contents: list[Json] = []
        for item, caption in zip(media, captions, strict=True):
            source = item.get("media")
            if isinstance(source, str) and source.startswith("attach://"):
                source = uploads.get(source[len("attach://") :])
                if source is None:
                    raise bad_request("can't parse InputMedia: media not found")
            if item["type"] == "photo":
                content: Json = {"photo": self.compose.photo(source, "media")}
                if item.get("has_spoiler"):
                    content["has_media_spoiler"] = True
            else:
                content = {"document": self.compose.document(source, None, "media")}
            content.update(caption)
            if item.get("show_caption_above_media") and caption:
                content["show_caption_above_media"] = True
            contents.append(content)
        reply = self.compose.reply_to(chat, params)
        self._check_flood(chat, len(contents))
        group = self.world.new_media_group_id() if len(contents) > 1 else None
        sent = []
        for content in contents:
            if group is not None:
                content["media_group_id"] = group
            content = {**reply, **content, **self._options(params)}
            sent.append(self.world.add_message(chat, self.world.bot_dict(), content))
        return sent

    async def send_chat_action(self, params: Json) -> Any:
        chat = self.compose.writable_chat(params.get("chat_id"))
        action = params.get("action")
        if action is None:
            raise required("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.chat_actions.append({"chat_id": chat.id, "action": action, "at": time.time()})
        return True

    # -- editing and deleting ------------------------------------------------------------------

    def _editable(self, params: Json) -> tuple[ChatRecord, Json]:
        if params.get("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")
        if params.get("chat_id") in (None, ""):
            raise bad_request("chat_id is empty")
        message_id = _int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        chat = self.compose.chat(params["chat_id"])
        message = self.world.get_message(chat, message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not self.world.is_bot_id(message.get("from", {}).get("id")):
            raise bad_request("message can't be edited")
        return chat, message

    def _apply_markup(self, message: Json, markup: Json | None) -> None:
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    def _save_edit(self, chat: ChatRecord, before: Json, after: Json, keys: tuple[str, ...]) -> Any:
        if all(before.get(key) == after.get(key) for key in (*keys, "reply_markup")):
            raise bad_request(MESSAGE_NOT_MODIFIED)
        self._check_flood(chat)  # an edit counts against a chat's limits like a new message
        return self.world.replace_message(chat, after)

    async def edit_message_text(self, params: Json) -> Any:
        markup = self.compose.markup(None, params.get("reply_markup"), inline_only=True)
        text, entities = self.compose.text(params)
        chat, message = self._editable(params)
        self.compose.check_web_apps(chat, markup)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        self.compose.check_text(text)
        edited = copy.deepcopy(message)
        edited["text"] = text
        if entities:
            edited["entities"] = entities
        else:
            edited.pop("entities", None)
        preview = params.get("link_preview_options")
        if isinstance(preview, dict) and any(e["type"] in ("url", "text_link") for e in entities):
            edited["link_preview_options"] = preview
        self._apply_markup(edited, markup)
        return self._save_edit(chat, message, edited, ("text", "entities"))

    async def edit_message_caption(self, params: Json) -> Any:
        markup = self.compose.markup(None, params.get("reply_markup"), inline_only=True)
        caption = self.compose.caption(params)
        chat, message = self._editable(params)
        self.compose.check_web_apps(chat, markup)
        if not any(key in message for key in _CAPTION_MEDIA):
            raise bad_request("there is no caption in the message to edit")
        edited = copy.deepcopy(message)
        for key in ("caption", "caption_entities", "show_caption_above_media"):
            edited.pop(key, None)
        edited.update(caption)
        if params.get("show_caption_above_media") and caption:
            edited["show_caption_above_media"] = True
        self._apply_markup(edited, markup)
        keys = ("caption", "caption_entities", "show_caption_above_media")
        return self._save_edit(chat, message, edited, keys)

    async def edit_message_reply_markup(self, params: Json) -> Any:
        markup = self.compose.markup(None, params.get("reply_markup"), inline_only=True)
        chat, message = self._editable(params)
        self.compose.check_web_apps(chat, markup)
        edited = copy.deepcopy(message)
        self._apply_markup(edited, markup)
        return self._save_edit(chat, message, edited, ())

    async def delete_message(self, params: Json) -> Any:
        chat = self.compose.chat(params.get("chat_id"))
        message_id = _int(params, "message_id")
        if message_id is None:
            raise required("message_id")
        message = self.world.get_message(chat, message_id)
        if message is None:
            raise bad_request("message to delete not found")
        own = self.world.is_bot_id(message.get("from", {}).get("id"))
        if not own and chat.is_group and not chat.bot_admin:
            raise bad_request("message can't be deleted")
        self.world.delete_message(chat, message_id)
        return True

    # -- callback queries and files ------------------------------------------------------------

    async def answer_callback_query(self, params: Json) -> Any:
        query_id = params.get("callback_query_id")
        if query_id in (None, ""):
            raise required("callback_query_id")
        record = self.world.callbacks.get(str(query_id))
        too_late = (
            record is not None
            and time.monotonic() - record.created > self.config.callback_answer_timeout
        )
        if record is None or record.answered or too_late:
            raise bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered = True
        record.answer = {
            "text": text if text else None,
            "show_alert": bool(params.get("show_alert")),
            "url": params.get("url") or None,
            "cache_time": _int(params, "cache_time") or 0,
        }
        return True

    async def get_file(self, params: Json) -> Any:
        file_id = params.get("file_id")
        if file_id in (None, ""):
            raise required("file_id")
        stored = self.world.files.get(str(file_id))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > 20 * 1024 * 1024:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }
