"""Catalogs: every string in the code is translated to Chinese, and the .mo files are current."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR, pick_locale, translator

ROOT = Path(__file__).resolve().parent.parent


def extracted_ids() -> set[str]:
    ids: set[str] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")],
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def catalog(locale: str) -> Catalog:
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def test_every_message_has_a_chinese_translation() -> None:
    zh = catalog("zh")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in zh
        if m.id and "fuzzy" not in m.flags
        and (m.string if isinstance(m.string, str) else all(m.string))
    }
    missing = extracted_ids() - translated
    assert missing == set(), f"run `python -m bot.i18n update` and translate: {sorted(missing)}"


def _ids(value: object) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


Key = tuple[str | None, tuple[str, ...]]


def translations(messages: Catalog) -> dict[Key, tuple[str, ...]]:
    """(context, ids) -> translations, of every message that has all of its translations."""
    return {(m.context, _ids(m.id)): _ids(m.string) for m in messages
            if m.id and "fuzzy" not in m.flags and all(_ids(m.string))}


def test_compiled_catalogs_match_their_sources() -> None:
    """By content, not bytes (another Babel lays the same catalog out differently): every
    translated message of a .po is in its .mo with the same translation, and the .mo has
    nothing the .po no longer has."""
    for locale in ("zh", "en"):
        source = catalog(locale)
        with (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as handle:
            compiled = read_mo(handle)
        hint = f"run `python -m bot.i18n compile` ({locale})"
        in_mo = translations(compiled)
        in_po = translations(source)
        assert {key: in_mo.get(key) for key in in_po} == in_po, hint
        assert {(m.context, _ids(m.id)) for m in compiled if m.id} <= \
            {(m.context, _ids(m.id)) for m in source if m.id}, hint


def test_chinese_is_rendered_and_english_falls_back_to_the_source() -> None:
    assert translator("zh").gettext("✅ Approve") == "✅ 同意"
    assert translator("en").gettext("✅ Approve") == "✅ Approve"
    assert translator("zh").ngettext("{n} photo", "{n} photos", 3) == "{n} 张照片"
    assert translator("en").ngettext("{n} photo", "{n} photos", 1) == "{n} photo"


def test_locale_choice() -> None:
    assert pick_locale("en", "zh-hans", "zh") == "en"
    assert pick_locale(None, "en-GB", "zh") == "en"
    assert pick_locale(None, "zh-hans", "en") == "zh"
    assert pick_locale(None, "fr", "zh") == "zh"
    assert pick_locale(None, None, "en") == "en"
