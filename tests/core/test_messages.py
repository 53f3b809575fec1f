"""Issue 20 point 4 (docs/requirements.md, "every text the portal generates ... is shown in the
reader's language"): `core.messages` keeps a message's id and parameters through `%`, nested
messages and choice labels, stores them as JSON, renders them in another language, falls back
to the stored text, and matches texts stored before against the catalogue."""

import pickle
import re

import pytest
from django.utils import translation

from core.errors import PortalError
from core.messages import (
    Message,
    compose,
    gettext,
    localize,
    match,
    ngettext,
    render,
    to_data,
)
from flows.choices import System
from mappings.choices import MappingKind

CJK = re.compile(r"[\u3400-\u9fff]")


def test_gettext_is_the_active_translation_and_keeps_its_id():
    """GIVEN zh-hans active WHEN a message is translated THEN the value is the Chinese text
    (every str use keeps working) and the message id is kept."""
    with translation.override("zh-hans"):
        message = gettext("Retried.")
    assert isinstance(message, str) and CJK.search(message)
    assert message.msgid == "Retried." and to_data(message) == {"id": "Retried."}
    with translation.override("en"):
        assert render(to_data(message), message) == "Retried."


def test_percent_with_a_dict_keeps_params_nested_messages_and_choice_labels():
    """GIVEN a message formatted with a nested message and a choice label (a lazy proxy) WHEN
    stored under zh-hans and rendered under en THEN every part is English."""
    with translation.override("zh-hans"):
        message = gettext("Ticket resolved by %(user)s: %(note)s") % {
            "user": "bob",
            "note": gettext("Retried."),
        }
        label = gettext("Moved to the ticket of its cause: %(title)s") % {
            "title": System.KINGDEE.label
        }
    assert isinstance(message, Message) and CJK.search(message) and "bob" in message
    data = to_data(message)
    assert data == {
        "id": "Ticket resolved by %(user)s: %(note)s",
        "params": {"user": "bob", "note": {"$msg": {"id": "Retried."}}},
    }
    assert to_data(label)["params"]["title"] == {"$msg": {"id": "Kingdee"}}
    with translation.override("en"):
        assert render(data, message) == "Ticket resolved by bob: Retried."
        assert render(to_data(label), label) == "Moved to the ticket of its cause: Kingdee"


def test_percent_with_a_tuple_a_single_value_format_and_plurals():
    template = Message("%s / %s", msgid="%s / %s", raw=True)
    assert to_data(template % ("a", 2)) == {
        "id": "%s / %s",
        "raw": True,
        "args": ["a", 2],
    }
    with translation.override("zh-hans"):
        plural = ngettext("%(count)d row confirmed.", "%(count)d rows confirmed.", 3) % {"count": 3}
        braces = gettext("Missing mapping: {subject}").format(subject="x")
    with translation.override("en"):
        assert render(to_data(plural), plural) == "3 rows confirmed."
        assert render(to_data(braces), braces) == "Missing mapping: x"


def test_composed_subject_renders_its_label_in_the_reader_language():
    """GIVEN a ticket subject made of a mapping kind's label and a key (the gift SKU of issue
    20) WHEN rendered in English THEN the label is English and the key unchanged."""
    with translation.override("zh-hans"):
        subject = compose("%(kind)s %(key)s", kind=MappingKind.MATERIAL.label, key="SKU-GIFT-9001")
        title = gettext("Missing mapping: {subject}").format(subject=subject)
    assert CJK.search(title)
    with translation.override("en"):
        shown = render(to_data(title), title)
    assert shown == "Missing mapping: SKU → material SKU-GIFT-9001"
    assert not CJK.search(shown)


def test_a_lower_cased_label_stays_a_message():
    """ "no material with that code": a label lower-cased inside a sentence."""
    from core.messages import as_message
    from mappings.choices import MasterKind

    with translation.override("en"):
        kind = as_message(MasterKind.MATERIAL.label).lower()
        sentence = gettext("Ticket resolved by %(user)s: %(note)s") % {"user": "x", "note": kind}
    assert kind == "material" and sentence == "Ticket resolved by x: material"
    assert to_data(kind) == {"id": "Material", "case": "lower"}
    with translation.override("zh-hans"):
        shown = render(to_data(sentence), sentence)
    assert "物料" in shown and "material" not in shown


def test_exceptions_keep_the_message_and_pickling_keeps_it_too():
    """str(exc) and exc.message stay messages (the ticket stores the id, not the text)."""
    with translation.override("zh-hans"):
        error = PortalError(gettext("Retried."))
        default = PortalError()
    assert to_data(str(error)) == {"id": "Retried."}
    assert to_data(error.message) == {"id": "Retried."}
    assert to_data(default.message) == {"id": "Portal error"}
    copy = pickle.loads(pickle.dumps(error.message))  # noqa: S301 - our own bytes
    assert isinstance(copy, Message) and copy.msgid == "Retried." and copy == error.message
    assert to_data(error.message[:120]) == {"id": "Retried."}  # a short subject stays one


def test_plain_text_has_no_data_and_bad_data_falls_back_to_the_stored_text():
    assert to_data("plain text") is None and to_data(f"{gettext('Retried.')}!") is None
    assert render(None, "stored") == "stored"
    assert render({"id": "Ticket resolved by %(user)s: %(note)s", "params": {}}, "kept") == "kept"
    assert render({"nonsense": 1}, "kept") == "kept"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_match_finds_the_message_of_a_stored_text_in_either_language(language):
    """The matcher the data migration uses: a text stored in English or Chinese gives back its
    id and parameters, nested messages included."""
    with translation.override(language):
        stored = str.__str__(
            gettext("Ticket resolved by %(user)s: %(note)s")
            % {"user": "bob", "note": gettext("Retried.")}
        )
    data = match(stored)
    assert data == {
        "id": "Ticket resolved by %(user)s: %(note)s",
        "params": {"user": "bob", "note": {"$msg": {"id": "Retried."}}},
    }
    other = "zh-hans" if language == "en" else "en"
    with translation.override(other):
        assert render(data, stored) == str.__str__(
            gettext("Ticket resolved by %(user)s: %(note)s")
            % {"user": "bob", "note": gettext("Retried.")}
        )


def test_match_of_the_gift_sku_title_and_unknown_text():
    """A migrated ticket title "缺少映射：SKU → 物料 SKU-GIFT-9001" becomes its message; text
    that matches no message (or a remote system's own words) stays as stored."""
    with translation.override("zh-hans"):
        stored = str.__str__(
            gettext("Missing mapping: {subject}").format(
                subject=f"{MappingKind.MATERIAL.label} SKU-GIFT-9001"
            )
        )
    data = match(stored)
    assert data is not None and data["id"] == "Missing mapping: {subject}"
    with translation.override("en"):
        assert localize(stored) == "Missing mapping: SKU → material SKU-GIFT-9001"
    assert match("物料编码 ABC 不存在") is None
    assert localize("物料编码 ABC 不存在") == "物料编码 ABC 不存在"
    assert match("") is None
