"""Checks and building blocks for what the bot sends: text, captions, keyboards, replies, files.

Every check raises :class:`ApiError` with Telegram's wording.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from .entities import (
    EntityParseError,
    check_url,
    clean_entities,
    detect_entities,
    parse_html,
    trim,
)
from .errors import WRONG_FILE_ID, ApiError, bad_request, forbidden, required
from .markdown import parse_markdown, parse_markdown_v2
from .media import StoredFile, Upload, image_info, photo_sizes
from .state import ChatRecord, World

Json = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


_BUTTON_STYLES = ("danger", "success", "primary")


class Composer:
    """Turns Bot API parameters into message content, enforcing Telegram's rules."""

    def __init__(self, world: World) -> None:
        self.world = world

    # -- chats ---------------------------------------------------------------------------------

    def chat(self, chat_id: Any) -> ChatRecord:
        """A chat the bot can see: 400 chat not found / 403 not a member."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat = self.world.find_chat(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.is_group and not chat.bot_member:
            kind = "supergroup" if chat.type == "supergroup" else "group"
            raise forbidden(f"bot is not a member of the {kind} chat")
        return chat

    def writable_chat(self, chat_id: Any) -> ChatRecord:
        """A chat the bot may send to: also the private-chat rules (started, blocked)."""
        chat = self.chat(chat_id)
        if chat.type == "private":
            user = self.world.user_of(chat)
            if user.is_bot:
                raise forbidden("bot can't send messages to bots")
            if user.blocked:
                raise forbidden("bot was blocked by the user")
            if not user.started:
                raise forbidden("bot can't initiate conversation with a user")
        return chat

    # -- text ----------------------------------------------------------------------------------

    def formatted(self, text: str, parse_mode: Any, entities: Any) -> tuple[str, list[Json]]:
        """Plain text and entities after parsing, trimming and Telegram's own detection."""
        try:
            if entities is not None:
                if not isinstance(entities, list):
                    raise EntityParseError("can't parse entities JSON object")
                found = clean_entities(text, entities)
            elif parse_mode:
                mode = str(parse_mode).lower()
                if mode == "html":
                    text, found = parse_html(text)
                elif mode == "markdownv2":
                    text, found = parse_markdown_v2(text)
                elif mode == "markdown":
                    text, found = parse_markdown(text)
                else:
                    raise bad_request("unsupported parse_mode")
            else:
                found = []
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from error
        text, found = trim(text, found)
        return text, self._resolve_mentions(detect_entities(text, found))

    def _resolve_mentions(self, entities: list[Json]) -> list[Json]:
        result = []
        for entity in entities:
            if entity["type"] == "text_mention":
                user_id = entity.get("user", {}).get("id")
                user = self.world.users.get(user_id) if isinstance(user_id, int) else None
                if user is None:
                    continue
                entity = {**entity, "user": user.to_dict()}
            result.append(entity)
        return result

    def text(self, params: Json) -> tuple[str, list[Json]]:
        raw = params.get("text")
        if not isinstance(raw, str):
            raw = "" if raw is None else str(raw)
        text, entities = self.formatted(raw, params.get("parse_mode"), params.get("entities"))
        return text, entities

    @staticmethod
    def check_text(text: str) -> None:
        if not text:
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")

    def caption(self, params: Json, prefix: str = "") -> Json:
        """``caption``/``caption_entities`` content (empty when there is no caption)."""
        raw = params.get("caption")
        if raw is None or raw == "":
            return {}
        text, entities = self.formatted(
            str(raw), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        content: Json = {}
        if text:
            content["caption"] = text
            if entities:
                content["caption_entities"] = entities
        return content

    # -- keyboards -----------------------------------------------------------------------------

    def markup(
        self, chat: ChatRecord | None, markup: Any, inline_only: bool = False
    ) -> Json | None:
        """Check reply_markup; returns the inline keyboard to show on the message, if any."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            keyboard = self._inline_keyboard(markup["inline_keyboard"])
            if chat is not None:
                self.check_web_apps(chat, keyboard)
            return keyboard
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
                )
            for row in rows:
                for button in row:
                    label = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(label, str) or not label:
                        raise bad_request("can't parse keyboard button: Text is not specified")
        elif not ("remove_keyboard" in markup or "force_reply" in markup):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if chat is not None:
            chat.reply_keyboard = None if "remove_keyboard" in markup else dict(markup)
        return None

    @staticmethod
    def check_web_apps(chat: ChatRecord, keyboard: Json | None) -> None:
        """Telegram opens a web_app button only in a private chat: elsewhere it refuses it."""
        buttons = [b for row in (keyboard or {}).get("inline_keyboard", []) for b in row]
        if chat.type != "private" and any("web_app" in button for button in buttons):
            raise bad_request("BUTTON_TYPE_INVALID")

    @staticmethod
    def _inline_keyboard(rows: Any) -> Json | None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        clean_rows: list[list[Json]] = []
        for row in rows:
            clean_row: list[Json] = []
            for button in row:
                if not isinstance(button, dict):
                    raise bad_request("can't parse inline keyboard button: Object expected")
                button = {k: v for k, v in button.items() if v is not None}
                if not isinstance(button.get("text"), str):
                    raise bad_request(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str)
                    or not data
                    or len(data.encode("utf-8")) > MAX_CALLBACK_DATA
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and (not isinstance(url, str) or check_url(url) is None):
                    raise bad_request("BUTTON_URL_INVALID")
                if button.get("style", "primary") not in _BUTTON_STYLES:
                    raise bad_request("BUTTON_STYLE_INVALID")
                web_app = button.get("web_app")
                if web_app is not None and not (
                        isinstance(web_app, dict) and isinstance(web_app.get("url"), str)
                        and web_app["url"].startswith("https://")):
                    raise bad_request("BUTTON_URL_INVALID")  # a Mini App is https only
                if not any(key in button for key in _BUTTON_ACTIONS):
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                clean_row.append(button)
            if clean_row:
                clean_rows.append(clean_row)
        return {"inline_keyboard": clean_rows} if clean_rows else None

    # -- replies -------------------------------------------------------------------------------

    def reply_to(self, chat: ChatRecord, params: Json) -> Json:
        """``reply_to_message`` (and ``quote``) content for reply_parameters or the legacy id."""
        parameters = params.get("reply_parameters")
        if parameters is None and params.get("reply_to_message_id") is not None:
            parameters = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
            }
        if parameters is None:
            return {}
        if not isinstance(parameters, dict) or not isinstance(parameters.get("message_id"), int):
            raise bad_request("can't parse reply parameters JSON object")
        target = chat
        if parameters.get("chat_id") not in (None, chat.id):
            target = self.chat(parameters["chat_id"])
        snapshot = self.world.reply_snapshot(target, parameters["message_id"])
        if snapshot is None:
            if parameters.get("allow_sending_without_reply"):
                return {}
            raise bad_request("message to be replied not found")
        content: Json = {}
        if target is chat:
            content["reply_to_message"] = snapshot
        quote = parameters.get("quote")
        if isinstance(quote, str) and quote:
            content["quote"] = {
                "text": quote,
                "position": int(parameters.get("quote_position") or 0),
                "is_manual": True,
            }
        return content

    # -- files ---------------------------------------------------------------------------------

    def existing_file(self, file_id: str, kind: str) -> StoredFile:
        stored = self.world.files.get(file_id)
        if stored is None:
            raise bad_request(WRONG_FILE_ID)
        if stored.kind != kind:
            raise bad_request(
                f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}"
            )
        return stored

    def input_file(self, value: Any, name: str) -> Upload | str:
        if value is None or value == "":
            raise required(name)
        if isinstance(value, Upload):
            if not value.data:
                raise bad_request("file must be non-empty")
            if len(value.data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            return value
        if not isinstance(value, str) or value.startswith("attach://"):
            raise bad_request(WRONG_FILE_ID)
        return value

    def photo(self, value: Any, name: str = "photo") -> list[Json]:
        """The ``photo`` sizes of a new or re-sent picture."""
        source = self.input_file(value, name)
        if isinstance(source, str):
            stored = self.existing_file(source, "photo")
            group = self.world.photo_sets.get(stored.file_id, [stored.file_id])
            return [self._photo_size(self.world.files[file_id]) for file_id in group]
        if len(source.data) > MAX_PHOTO_BYTES:
            raise bad_request(
                f"file of size {len(source.data)} bytes is too big for a photo; "
                f"the maximum size is {MAX_PHOTO_BYTES} bytes"
            )
        info = image_info(source.data)
        if info is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height, mime = info
        if (
            width <= 0
            or height <= 0
            or width + height > 10_000
            or max(width, height) > 20 * min(width, height)
        ):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        stored_sizes = [
            self.world.store_file("photo", source.data, mime_type=mime, width=w, height=h)
            for w, h in photo_sizes(width, height)
        ]
        ids = [s.file_id for s in stored_sizes]
        for file_id in ids:
            self.world.photo_sets[file_id] = ids
        return [self._photo_size(s) for s in stored_sizes]

    @staticmethod
    def _photo_size(stored: StoredFile) -> Json:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "width": stored.width or 0,
            "height": stored.height or 0,
        }

    def document(self, value: Any, thumbnail: Any = None, name: str = "document") -> Json:
        """The ``document`` of a new or re-sent file."""
        source = self.input_file(value, name)
        if isinstance(source, str):
            stored = self.existing_file(source, "document")
        else:
            file_name = source.filename or "document"
            guessed = mimetypes.guess_type(file_name)[0]
            mime = guessed or source.content_type or "application/octet-stream"
            stored = self.world.store_file("document", source.data, file_name, mime)
            if isinstance(thumbnail, Upload) and image_info(thumbnail.data):
                width, height, thumb_mime = image_info(thumbnail.data) or (0, 0, "")
                thumb = self.world.store_file(
                    "thumbnail", thumbnail.data, mime_type=thumb_mime, width=width, height=height
                )
                self.world.thumbnails[stored.file_id] = thumb.file_id
        document: Json = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        thumb_id = self.world.thumbnails.get(stored.file_id)
        if thumb_id is not None:
            thumb_size = self._photo_size(self.world.files[thumb_id])
            document["thumbnail"] = thumb_size
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        document["file_size"] = stored.size
        return document
