"""Generated text in the reader's language (issue 20 point 4).

Events, ticket titles and texts, alerts and error messages are made by a worker in its own
language but read later by people in theirs. `gettext` here is a drop-in for Django's: it
returns a `Message`, a `str` holding the active language's text (so every use as a string keeps
working) that also carries its message id and parameters. `%` keeps them, choice labels and
other translated parameters stay messages of their own. `to_data` turns one into JSON for the
database, next to the text; `render` shows it again in the language active when it is read.

Text stored without data (rows written before, or text whose message was lost on the way, e.g.
through an f-string) is matched against the catalogue by `match`: a message id with its
placeholders is a pattern for its English and its Chinese text, and an unambiguous match gives
the id and parameters back. `localize(text, data)` renders the data, else what the text
matches, else the text as it is.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.utils import translation
from django.utils.functional import Promise

__all__ = [
    "Message",
    "as_message",
    "compose",
    "from_data",
    "gettext",
    "localize",
    "match",
    "ngettext",
    "pgettext",
    "render",
    "to_data",
]


class Message(str):
    """Text in the language active when it was made, with what it takes to make it again in
    another: the message id (or, `raw`, an untranslated template), plural and context, the
    parameters, and the formatting style ("%" or "{}")."""

    msgid: str = ""
    params: Any = None
    plural: str = ""
    number: int | None = None
    context: str = ""
    style: str = "%"
    raw: bool = False
    case: str = ""

    def __new__(cls, text: str = "", **facts: Any) -> Message:
        obj = super().__new__(cls, text)
        for name, value in facts.items():
            setattr(obj, name, value)
        return obj

    def __str__(self) -> str:  # str(message) keeps the message (exceptions, str() calls)
        return self

    def _facts(self, **changes: Any) -> dict[str, Any]:
        facts = {
            "msgid": self.msgid,
            "params": self.params,
            "plural": self.plural,
            "number": self.number,
            "context": self.context,
            "style": self.style,
            "raw": self.raw,
            "case": self.case,
        }
        facts.update(changes)
        return facts

    def __mod__(self, params: Any) -> Message:
        text = str.__mod__(self, params)
        return Message(text, **self._facts(params=_keep(params), style="%"))

    def format(self, *args: Any, **kwargs: Any) -> Message:
        text = str.format(self, *args, **kwargs)
        if args:
            return Message(text, **self._facts(params=_keep(tuple(args)), style="{}"))
        return Message(text, **self._facts(params=_keep(kwargs), style="{}"))

    def lower(self) -> Message:
        """Lower case, kept as such when rendered in another language (a label in a sentence:
        "no material with that code")."""
        return Message(str.lower(self), **self._facts(case="lower"))

    def __getitem__(self, key: Any) -> str:
        # `message[:120]` of a short message is the message itself (a ticket's subject).
        part = str.__getitem__(self, key)
        if isinstance(key, slice) and len(part) == len(self):
            return self
        return part

    def __reduce__(self) -> tuple:
        return (_rebuild, (str.__str__(self), self._facts()))

    def __deepcopy__(self, memo: dict) -> Message:
        return self

    def __copy__(self) -> Message:
        return self


def _rebuild(text: str, facts: dict[str, Any]) -> Message:
    return Message(text, **facts)


def gettext(message: str) -> Message:
    """Django's gettext, keeping the message id."""
    return Message(translation.gettext(message), msgid=str(message))


def ngettext(singular: str, plural: str, number: int) -> Message:
    return Message(
        translation.ngettext(singular, plural, number),
        msgid=str(singular),
        plural=str(plural),
        number=number,
    )


def pgettext(context: str, message: str) -> Message:
    return Message(translation.pgettext(context, message), msgid=str(message), context=context)


def compose(template: str, **params: Any) -> Message:
    """An untranslated `%(name)s` template joining translated parts, e.g. a mapping kind's
    label and a key ("SKU → 物料 SKU-GIFT-9001"): each part is rendered in the reader's
    language, the template as it is."""
    return Message(template, msgid=template, raw=True) % params


def _lazy_message(value: Promise) -> Message | None:
    """A gettext_lazy / pgettext_lazy proxy (e.g. a choice label) as a message, else None."""
    try:
        func, args = value.__reduce__()[1][:2]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    name = getattr(func, "__name__", "")
    module = getattr(func, "__module__", "")
    if not module.startswith("django.utils.translation"):
        return None
    if name == "gettext" and len(args) == 1:
        return Message(str(value), msgid=str(args[0]))
    if name == "pgettext" and len(args) == 2:
        return Message(str(value), msgid=str(args[1]), context=str(args[0]))
    return None


def as_message(value: Any) -> Any:
    """A lazy translation (e.g. a constant's gettext_lazy) as a Message in the active
    language; a Message or other text as it is."""
    if isinstance(value, Promise):
        return _lazy_message(value) or str(value)
    return value


def _param(value: Any) -> Any:
    if isinstance(value, Message):
        return value
    if isinstance(value, Promise):
        return _lazy_message(value) or str(value)
    return value


def _keep(params: Any) -> Any:
    if isinstance(params, dict):
        return {key: _param(value) for key, value in params.items()}
    if isinstance(params, tuple):
        return tuple(_param(value) for value in params)
    return _param(params)


# --- to and from the database ----------------------------------------------------------------


def _param_data(value: Any) -> Any:
    if isinstance(value, Promise):
        value = _param(value)
    if isinstance(value, Message):
        return {"$msg": to_data(value)}
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime | date):
        return str(value)
    return str(value)


def to_data(value: Any) -> dict[str, Any] | None:
    """{"id": msgid, "params": ...} for a message (or a lazy translation), None for plain text."""
    if isinstance(value, Promise):
        value = _lazy_message(value)
    if not isinstance(value, Message) or not value.msgid:
        return None
    data: dict[str, Any] = {"id": value.msgid}
    if value.raw:
        data["raw"] = True
    if value.plural:
        data["plural"] = value.plural
        data["n"] = value.number
    if value.context:
        data["ctx"] = value.context
    if value.style != "%":
        data["style"] = value.style
    if value.case:
        data["case"] = value.case
    params = value.params
    if isinstance(params, dict):
        data["params"] = {str(key): _param_data(item) for key, item in params.items()}
    elif isinstance(params, tuple):
        data["args"] = [_param_data(item) for item in params]
    elif params is not None:
        data["args"] = [_param_data(params)]
        data["single"] = True
    return data


def _param_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$msg" in value:
            return _message(value["$msg"])
        if "$dec" in value:
            return Decimal(value["$dec"])
    return value


def _message(data: dict[str, Any]) -> Message:
    """The message of `data`, made in the active language (raises on bad data)."""
    msgid = data["id"]
    facts: dict[str, Any] = {"msgid": msgid}
    if data.get("raw"):
        text = msgid
        facts["raw"] = True
    elif data.get("plural"):
        text = translation.ngettext(msgid, data["plural"], int(data.get("n") or 0))
        facts.update(plural=data["plural"], number=data.get("n"))
    elif data.get("ctx"):
        text = translation.pgettext(data["ctx"], msgid)
        facts["context"] = data["ctx"]
    else:
        text = translation.gettext(msgid)
    if data.get("case") == "lower":
        text = text.lower()
        facts["case"] = "lower"
    message = Message(text, **facts)
    style = data.get("style", "%")
    if "params" in data:
        params = {key: _param_value(item) for key, item in data["params"].items()}
        return message.format(**params) if style == "{}" else message % params
    if "args" in data:
        args = tuple(_param_value(item) for item in data["args"])
        if style == "{}":
            return message.format(*args)
        return message % (args[0] if data.get("single") else args)
    return message


def from_data(data: dict[str, Any] | None, fallback: str = "") -> str:
    """The message of stored data in the active language (a Message, so it can be stored
    again, e.g. inside an alert's text), or the fallback text on missing or bad data."""
    if data:
        try:
            return _message(data)
        except Exception:  # a catalogue changed under stored data: show what was stored
            return fallback
    return fallback


def render(data: dict[str, Any] | None, fallback: str = "") -> str:
    """Stored data as text in the active language; the stored text when it cannot be."""
    return str.__str__(from_data(data, fallback)) if data else fallback


def localize(text: str, data: dict[str, Any] | None = None) -> str:
    """Text for the reader: its data rendered, else the message its text matches in the
    catalogue, else the text as stored."""
    if data:
        return render(data, text)
    if not text:
        return text or ""
    return render(match(text), text)


# --- matching stored text against the catalogue ----------------------------------------------

_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdfir]|\{(\w+)\}")
# A pattern needs this many literal letters to be trusted: "%(a)s: %(b)s" matches anything.
_MIN_LITERAL = 6
_MAX_DEPTH = 2


def _catalogue(language: str) -> dict:
    from django.utils.translation import trans_real

    return dict(trans_real.translation(language)._catalog.items())


def _pattern(text: str, names: list[str]) -> re.Pattern | None:
    parts: list[str] = []
    position = 0
    seen: set[str] = set()
    for found in _PLACEHOLDER.finditer(text):
        name = found.group(1) or found.group(2)
        parts.append(re.escape(text[position : found.start()]))
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            seen.add(name)
            parts.append(f"(?P<{name}>.+?)")
        position = found.end()
    parts.append(re.escape(text[position:]))
    if sorted(seen) != sorted(set(names)):
        return None  # the translation lost or renamed a placeholder: not usable
    try:
        return re.compile("".join(parts), re.DOTALL)
    except re.error:
        return None


def _literal_size(text: str) -> int:
    # A Chinese character says as much as a short English word.
    return sum((2 if ord(ch) > 0x2E80 else 1) for ch in _PLACEHOLDER.sub("", text) if ch.isalnum())


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, str], list[tuple[re.Pattern, str, str, int, str]]]:
    """(exact text -> msgid, [(pattern, msgid, style, literal size, longest literal part)])
    over English msgids and their Chinese translations."""
    exact: dict[str, str] = {}
    patterns: list[tuple[re.Pattern, str, str, int, str]] = []
    clashes: set[str] = set()
    for msgid, msgstr in _catalogue("zh-hans").items():
        if not isinstance(msgid, str) or not msgid or "\x04" in msgid:
            continue  # plural forms and contexts are not matched
        names = [a or b for a, b in _PLACEHOLDER.findall(msgid)]
        for text in {msgid, msgstr}:
            if not text:
                continue
            if not names:
                if exact.get(text, msgid) != msgid:
                    clashes.add(text)
                exact[text] = msgid
                continue
            size = _literal_size(text)
            if size < _MIN_LITERAL:
                continue
            style = "{}" if "{" in msgid and "%(" not in msgid else "%"
            compiled = _pattern(text, names)
            if compiled is not None:
                key = max(_PLACEHOLDER.split(text)[::3], key=len)
                patterns.append((compiled, msgid, style, size, key))
    for text in clashes:
        exact.pop(text, None)
    return exact, patterns


def match(text: str, *, _depth: int = 0) -> dict[str, Any] | None:
    """The message data whose English or Chinese text is `text`, or None when no message or
    more than one equally specific message matches."""
    return _match(str.__str__(text) if isinstance(text, Message) else text, _depth)


@lru_cache(maxsize=8192)
def _match(text: str, depth: int) -> dict[str, Any] | None:
    if not text or len(text) > 5000:
        return None
    exact, patterns = _index()
    if text in exact:
        return {"id": exact[text]}
    if depth >= _MAX_DEPTH:
        return None
    if depth and (labelled := _labelled(text, exact)):
        return labelled
    best: list[tuple[int, str, str, dict[str, str]]] = []
    for compiled, msgid, style, size, key in patterns:
        if key not in text:
            continue  # cheaper than the pattern
        found = compiled.fullmatch(text)
        if found is None:
            continue
        best.append((size, msgid, style, found.groupdict()))
    if not best:
        return None
    top = max(size for size, *_rest in best)
    winners = {(msgid, style): params for size, msgid, style, params in best if size == top}
    if len(winners) != 1:
        return None
    (msgid, style), params = next(iter(winners.items()))
    data: dict[str, Any] = {"id": msgid, "params": {}}
    if style != "%":
        data["style"] = style
    for name, value in params.items():
        nested = _match(value, depth + 1)
        data["params"][name] = {"$msg": nested} if nested else value
    _coerce_numbers(msgid, data["params"])
    return data


def _labelled(text: str, exact: dict[str, str]) -> dict[str, Any] | None:
    """A translated label and a key, e.g. a ticket subject "SKU → 物料 SKU-GIFT-9001"."""
    for position, char in enumerate(text):
        if char == " " and text[:position] in exact and text[position + 1 :]:
            return {
                "id": "%(kind)s %(key)s",
                "raw": True,
                "params": {
                    "kind": {"$msg": {"id": exact[text[:position]]}},
                    "key": text[position + 1 :],
                },
            }
    return None


def _coerce_numbers(msgid: str, params: dict[str, Any]) -> None:
    """`%(n)d` parameters come back as text; make them numbers again."""
    for name in re.findall(r"%\((\w+)\)d", msgid):
        value = params.get(name)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                params[name] = int(value)


def match_reset() -> None:
    """Forget the catalogue index (tests that change translations)."""
    _index.cache_clear()
    _match.cache_clear()
