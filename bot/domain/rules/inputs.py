"""Numbers as people type them and buttons carry them, read strictly at the edge.

An id is a positive whole number the database can hold (PostgreSQL's INTEGER); a year is
one the calendar can count in. Anything else is not a number to look up: a typed argument
gets its command's usage, a button carrying it is unknown.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1
FIRST_YEAR, LAST_YEAR = 2000, 2100

# An id field of callback data: a forged button beyond it fails to unpack, so no handler
# takes it and it is answered as an unknown button.
Id = Annotated[int, Field(ge=0, le=MAX_ID)]
# A signed one, where the rules rather than the type say which values make sense.
SignedId = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]


def parse_id(word: str) -> int | None:
    """``12`` or ``#12``; None for anything else (``²``, ``-1``, twenty digits)."""
    digits = word.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_ID)):
        return None
    value = int(digits)
    return value if 0 < value <= MAX_ID else None


def parse_year(word: str) -> int | None:
    """A four-digit year the calendar can count in; None otherwise."""
    word = word.strip()
    if not (word.isascii() and word.isdigit() and len(word) == 4):
        return None
    year = int(word)
    return year if FIRST_YEAR <= year <= LAST_YEAR else None
