"""Catalogs: every string in the code is translated to Chinese, and the .mo files are current."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
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


def test_compiled_catalogs_match_their_sources() -> None:
    for locale in ("zh", "en"):
        compiled = io.BytesIO()
        write_mo(compiled, catalog(locale), use_fuzzy=False)
        on_disk = (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").read_bytes()
        assert compiled.getvalue() == on_disk, f"run `python -m bot.i18n compile` ({locale})"


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
