"""HTTP details of the Bot API: reading parameters the ways Telegram accepts, and replies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .errors import ApiError, FrontEndError, bad_request
from .media import Upload

ATTACH = "attach://"


async def read_params(request: web.Request) -> tuple[dict[str, Any], bool]:
    """Parameters from the query string and a JSON, urlencoded or multipart body.

    Returns (params, from_form): form and query values are strings to be decoded by type.
    """
    params: dict[str, Any] = dict(request.query)
    from_form = True
    if request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise bad_request("can't parse JSON object") from error
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON object")
            params.update(body)
            from_form = not request.query
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = Upload(
                        # aiohttp's client percent-encodes non-ASCII names unless told not to
                        filename=unquote(value.filename or key),
                        content_type=value.content_type or "application/octet-stream",
                        data=value.file.read(),
                    )
                else:
                    params[key] = value
    return params, from_form


def split_uploads(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Separate file parts referenced as ``attach://name`` from the real parameters.

    A parameter whose value is ``attach://name`` gets the upload itself; parts only referenced
    from inside JSON (``media`` of sendMediaGroup) stay available in the returned uploads map.
    """
    uploads = {k: v for k, v in params.items() if isinstance(v, Upload)}
    referenced: set[str] = set()
    result: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and value.startswith(ATTACH):
            name = value[len(ATTACH) :]
            if name in uploads:
                result[key] = uploads[name]
                referenced.add(name)
                continue
        result[key] = value
    for value in params.values():
        if isinstance(value, str) and ATTACH in value:
            referenced.update(name for name in uploads if f"{ATTACH}{name}" in value)
    for name in referenced:
        if result.get(name) is uploads[name]:
            del result[name]
    return result, uploads


def loggable(value: Any) -> Any:
    """A JSON-safe copy of decoded parameters with file contents replaced by markers."""
    if isinstance(value, Upload):
        return value.marker()
    if isinstance(value, dict):
        return {k: loggable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [loggable(v) for v in value]
    return value


def reply(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


def error_reply(error: ApiError) -> web.Response:
    if isinstance(error, FrontEndError):
        return web.Response(text=error.page(), status=error.code, content_type="text/html",
                            headers={"Server": "nginx/1.18.0"})
    return reply(error.envelope(), status=error.code)
