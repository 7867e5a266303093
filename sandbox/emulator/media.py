"""Files: identifiers, image sizes, and a generated placeholder picture."""

from __future__ import annotations

import secrets
import struct
import zlib
from dataclasses import dataclass


@dataclass
class StoredFile:
    """One file the emulated Telegram keeps (each photo size is a file of its own)."""

    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document" | "thumbnail"
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


_KIND_PREFIX = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI", "thumbnail": "AAMCAg"}
_PATH_DIR = {"photo": "photos", "document": "documents", "thumbnail": "thumbnails"}


def new_file_ids(kind: str) -> tuple[str, str]:
    """A fresh (file_id, file_unique_id) pair that looks like Telegram's."""
    prefix = _KIND_PREFIX.get(kind, "BQACAgIAAxkBAAI")
    return prefix + secrets.token_urlsafe(36), "AQAD" + secrets.token_urlsafe(9)


def file_path_for(kind: str, number: int, file_name: str | None, mime_type: str | None) -> str:
    extension = ""
    if file_name and "." in file_name:
        extension = "." + file_name.rsplit(".", 1)[1].lower()
    elif kind in ("photo", "thumbnail"):
        extension = ".png" if mime_type == "image/png" else ".jpg"
    return f"{_PATH_DIR.get(kind, 'documents')}/file_{number}{extension}"


def image_info(data: bytes) -> tuple[int, int, str] | None:
    """(width, height, mime type) read from a PNG, JPEG, GIF, WebP or BMP header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height, "image/png"
    if data.startswith(b"GIF8") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height, "image/gif"
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return width, abs(height), "image/bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            width = 1 + int.from_bytes(data[24:27], "little")
            height = 1 + int.from_bytes(data[27:30], "little")
            return width, height, "image/webp"
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF, "image/webp"
        if chunk == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "image/webp"
    if data.startswith(b"\xff\xd8"):
        return _jpeg_info(data)
    return None


def _jpeg_info(data: bytes) -> tuple[int, int, str] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height, "image/jpeg"
        pos += 2 + length
    return None


def photo_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """Sizes Telegram keeps for a photo: thumbnails of 90/320/800 px sides and the original."""
    sizes: list[tuple[int, int]] = []
    longest = max(width, height, 1)
    for side in (90, 320, 800):
        if side < longest:
            scale = side / longest
            sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    cap = 2560
    if longest > cap:
        scale = cap / longest
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    if not sizes:  # a tiny picture still gets a thumbnail of its own
        sizes.append((width, height))
    sizes.append((width, height))
    return sizes


def placeholder_png(
    width: int = 640, height: int = 480, rgb: tuple[int, int, int] = (46, 160, 67)
) -> bytes:
    """A valid solid-colour PNG (green, as the bot's name suggests)."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@dataclass
class Upload:
    """A file part of a multipart/form-data request."""

    filename: str
    content_type: str
    data: bytes

    def marker(self) -> dict[str, object]:
        """What the request log shows instead of the file's bytes."""
        return {"upload": self.filename, "size": len(self.data), "mime_type": self.content_type}
