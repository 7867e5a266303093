"""The lights board: a Telegram Mini App served by the bot's own aiohttp server."""
