"""Rendering: what people see in Telegram (HTML text and inline keyboards)."""
