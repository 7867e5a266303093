"""Mini App launch data as Telegram's clients pass it: ``initData`` signed with the bot's token.

The hash is Telegram's: HMAC-SHA256 over the sorted ``key=value`` lines of every other field,
keyed with HMAC-SHA256("WebAppData", token). The bot checks it exactly as it checks
Telegram's; tests tamper with what this returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlencode

Json = dict[str, Any]


def sign_init_data(token: str, user: Json, auth_date: int, *,
                   query_id: str | None = None, extra: Json | None = None) -> str:
    """The ``tgWebAppData`` query string for ``user`` opening a Mini App at ``auth_date``."""
    fields: dict[str, str] = {
        "query_id": query_id or f"AA{secrets.token_hex(8)}",
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(auth_date),
    }
    fields.update({key: str(value) for key, value in (extra or {}).items()})
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def launch_fragment(init_data: str, theme: Json, *, platform: str = "web",
                    version: str = "8.0") -> str:
    """The ``#…`` a client appends to a Mini App's URL: its launch parameters."""
    return urlencode({
        "tgWebAppData": init_data,
        "tgWebAppVersion": version,
        "tgWebAppPlatform": platform,
        "tgWebAppThemeParams": json.dumps(theme, separators=(",", ":")),
    })
