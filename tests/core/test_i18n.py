"""The UI speaks Simplified Chinese by default, English on request (docs/requirements.md, Users).

The catalogue locale/zh_Hans/LC_MESSAGES/django.po must be complete: after `make makemessages`
new msgids arrive untranslated and changed ones fuzzy; `make messages-check` lists them.
"""

import functools
import gettext
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
PO = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

# %(name)s / %s / %% and {name} placeholders, HTML tags: a translation keeps every one.
PLACEHOLDER = re.compile(r"%\(\w+\)[#0 +\-]*\d*(?:\.\d+)?[sdfrx]|%[sd%]|\{\w*\}|<[^<>]+>")


@functools.cache
def _i18n_check():
    """scripts/i18n_check.py (the script behind `make messages-check`), imported by path."""
    script = BASE_DIR / "scripts" / "i18n_check.py"
    spec = importlib.util.spec_from_file_location("i18n_check", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def entries():
    return [e for e in _i18n_check().parse_po(PO) if not e.is_header and not e.obsolete]


def test_catalogue_has_no_untranslated_or_fuzzy_entries(entries):
    """GIVEN the zh_Hans catalogue WHEN parsed THEN every live msgid has a non-empty,
    non-fuzzy translation (run `make messages-check` to list the ones missing)."""
    assert len(entries) > 1000
    todo = _i18n_check().pending(entries)
    assert not todo, "untranslated or fuzzy: " + "; ".join(repr(e.msgid) for e in todo[:20])


def test_catalogue_header_is_chinese_with_one_plural_form():
    header = next(e for e in _i18n_check().parse_po(PO) if e.is_header)
    assert not header.fuzzy
    assert "Language: zh_Hans" in header.msgstr[0]
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr[0]


def test_translations_keep_placeholders_and_markup(entries):
    """GIVEN every entry WHEN its msgstr is compared with its msgid THEN the same
    placeholders and tags appear (a lost %(n)d breaks the page, not just the wording)."""
    broken = []
    for entry in entries:
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        if entry.msgid_plural is not None:
            wanted |= set(PLACEHOLDER.findall(entry.msgid_plural))
            # nplurals=1: the single form may drop the singular's literal wording, not a name.
            assert set(entry.msgstr) == {0}, entry.msgid
        for form in entry.msgstr.values():
            if set(PLACEHOLDER.findall(form)) != wanted:
                broken.append(entry.msgid)
    assert not broken, broken[:20]


def test_committed_mo_matches_the_po(entries):
    """GIVEN the committed django.mo (used where msgfmt is missing) WHEN read THEN it holds
    exactly the catalogue's translations (recompile with `make messages` after editing)."""
    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    stale = []
    for entry in entries:
        if entry.msgid_plural is not None:
            got = catalogue.ngettext(entry.msgid, entry.msgid_plural, 1)
        else:
            got = catalogue.gettext(entry.msgid)
        if got != entry.msgstr[0]:
            stale.append(entry.msgid)
    assert not stale, stale[:20]


@pytest.mark.django_db
def test_admin_index_speaks_chinese_by_default_and_english_on_request(admin_client):
    """GIVEN a staff user WHEN the admin index is opened with Accept-Language zh-hans (or
    none: LANGUAGE_CODE is zh-hans) THEN the project's own strings are Chinese; WHEN with
    Accept-Language en THEN they are English."""
    for accept in ("zh-hans", "zh-CN,zh;q=0.9", None):
        headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
        page = admin_client.get("/admin/", **headers).content.decode()
        assert "流程看板" in page  # Process board (templates/admin/index.html)
        assert "异常工单" in page  # Exception tickets
        assert "集成平台 · 聚水潭 ↔ 金蝶" in page  # site header (integration_portal/urls.py)
        assert "编码映射" in page  # code mappings (mappings app verbose_name_plural)
        assert 'lang="zh-hans"' in page
        assert "Process board" not in page

    page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Process board" in page
    assert "Exception tickets" in page
    assert "Integration Portal · Jushuitan ↔ Kingdee" in page
    assert 'lang="en"' in page
    assert "流程看板" not in page


@pytest.mark.django_db
def test_changelist_and_board_in_chinese(admin_client):
    """GIVEN a staff user WHEN a mapping changelist, the process board and the ticket list
    are opened in Chinese THEN their model names, choices and headings are translated."""
    page = admin_client.get(
        "/admin/mappings/materialmapping/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "SKU ↔ 物料映射" in page
    assert "显式（人工录入或导入）" in page  # source filter: MappingSource.EXPLICIT
    assert "模板（xlsx）" in page  # import template link (mappings template)

    board = admin_client.get("/monitoring/board/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert board.status_code == 200
    assert "流程看板" in board.content.decode()
    assert "挂起（库存不足）" in board.content.decode()  # DocumentState.HELD column

    tickets = admin_client.get("/monitoring/tickets/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "待处理或处理中" in tickets.content.decode()  # status filter
