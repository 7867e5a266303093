"""The /stats charts as a Telegram album (shared by /stats and the weekly digest)."""

from __future__ import annotations

import asyncio

from aiogram.types import BufferedInputFile, InputMediaPhoto
from aiogram.types.media_union import MediaUnion

from bot.domain.usecases.stats import Stats
from bot.i18n import Translator
from bot.views.charts import stats_charts


async def chart_album(t: Translator, stats: Stats) -> list[MediaUnion]:
    """Drawn in a worker thread: a second of CPU would otherwise hold every update."""
    charts = await asyncio.to_thread(stats_charts, t, stats)
    return [InputMediaPhoto(media=BufferedInputFile(png, filename=name))
            for name, png in charts]
