"""Text a database can store (core.storable): what the push endpoints refuse, naming the field,
and what a pull cleans, so one odd character never fails a chunk (#12 poison input)."""

import pytest

from core.storable import clean_text, storable, unstorable


@pytest.mark.usefixtures("english")
def test_unstorable_names_the_path_of_the_first_bad_value():
    """Pure: NUL characters and lone surrogates, in values and in keys, with their path."""
    assert unstorable({"so_id": "A-1", "items": [{"name": "ok"}, {"name": "bad\x00"}]}) == (
        "items[1].name",
        "contains a NUL character (U+0000)",
    )
    assert unstorable({"remark": "\udc8a"})[0] == "remark"
    assert unstorable({"items": [{"k\x00": 1}]})[0] == "items[0]"
    assert unstorable({"name": "耳机 🎧 Ünïcødé", "qty": 2, "price": None}) is None
    assert unstorable("\x00") == ("body", "contains a NUL character (U+0000)")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("a\x00b", "ab"), ("x\udc8ay", "x\ufffdy"), ("问号?保留", "问号?保留"), ("🎧", "🎧")],
)
def test_clean_text_drops_nul_and_replaces_lone_surrogates(raw, clean):
    assert clean_text(raw) == clean


def test_storable_cleans_keys_and_nested_values_and_keeps_the_rest():
    assert storable({"a\x00": ["b\x00", {"c": "\ud800"}], "n": 1.5, "t": True}) == {
        "a": ["b", {"c": "\ufffd"}],
        "n": 1.5,
        "t": True,
    }
