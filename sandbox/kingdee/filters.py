"""A parser for the FilterString subset integrations use (no eval, no raw SQL).

Grammar (keywords case-insensitive):
    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" expr ")" | comparison
    comparison := FIELD op value
                | FIELD ["not"] "in" "(" value ("," value)* ")"
                | FIELD ["not"] "like" STRING
                | FIELD "is" ["not"] "null"
                | FIELD "between" value "and" value
    op         := "=" | "<>" | "!=" | ">" | ">=" | "<" | "<="
    value      := STRING ('...' with '' as an escaped quote, optional N prefix) | NUMBER
FIELD is a key such as FBillNo, FMaterialId.FNumber or FEntity_FEntryId.
The parser yields a small tree; query.py compiles it to Django Q objects.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class FilterSyntaxError(ValueError):
    """The filter cannot be parsed (the real server answers MsgCode 4, GetRealExpress error)."""


@dataclass(frozen=True)
class Comparison:
    field: str  # lower case
    op: str  # = <> > >= < <= in notin like notlike isnull notnull
    values: tuple  # str | Decimal items


@dataclass(frozen=True)
class Not:
    node: "Node"


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    nodes: tuple["Node", ...]


Node = Comparison | Not | BoolOp

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>[Nn]?'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><>|!=|>=|<=|=|>|<)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "like", "is", "null", "between"}


def _tokens(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterSyntaxError(
                f"cannot read the filter at position {pos}: {text[pos : pos + 20]!r}"
            )
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "string":
            body = raw[1:] if raw[0] in "Nn" else raw
            out.append(("value", body[1:-1].replace("''", "'")))
        elif kind == "number":
            try:
                out.append(("value", Decimal(raw)))
            except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
                raise FilterSyntaxError(f"bad number {raw!r}") from exc
        elif kind == "word" and raw.lower() in _KEYWORDS:
            out.append((raw.lower(), raw))
        elif kind == "word":
            out.append(("field", raw.lower()))
        else:
            out.append((raw, raw))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> str | None:
        index = self.pos + offset
        return self.tokens[index][0] if index < len(self.tokens) else None

    def take(self, kind: str | None = None) -> tuple[str, object]:
        if self.pos >= len(self.tokens):
            raise FilterSyntaxError("the filter ends too early")
        token = self.tokens[self.pos]
        if kind is not None and token[0] != kind:
            raise FilterSyntaxError(f"expected {kind!r}, found {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.expr()
        if self.pos != len(self.tokens):
            raise FilterSyntaxError(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def expr(self) -> Node:
        nodes = [self.and_expr()]
        while self.peek() == "or":
            self.take()
            nodes.append(self.and_expr())
        return nodes[0] if len(nodes) == 1 else BoolOp("or", tuple(nodes))

    def and_expr(self) -> Node:
        nodes = [self.not_expr()]
        while self.peek() == "and":
            self.take()
            nodes.append(self.not_expr())
        return nodes[0] if len(nodes) == 1 else BoolOp("and", tuple(nodes))

    def not_expr(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Not(self.not_expr())
        if self.peek() == "(":
            self.take("(")
            node = self.expr()
            self.take(")")
            return node
        return self.comparison()

    def value(self) -> object:
        return self.take("value")[1]

    def comparison(self) -> Node:
        field = str(self.take("field")[1])
        kind = self.peek()
        if kind in ("=", "<>", "!=", ">", ">=", "<", "<="):
            op = self.take()[0]
            return Comparison(field, "<>" if op == "!=" else op, (self.value(),))
        negate = False
        if kind == "not":
            self.take()
            negate = True
            kind = self.peek()
        if kind == "in":
            self.take()
            self.take("(")
            values = [self.value()]
            while self.peek() == ",":
                self.take()
                values.append(self.value())
            self.take(")")
            return Comparison(field, "notin" if negate else "in", tuple(values))
        if kind == "like":
            self.take()
            return Comparison(field, "notlike" if negate else "like", (self.value(),))
        if kind == "is" and not negate:
            self.take()
            if self.peek() == "not":
                self.take()
                self.take("null")
                return Comparison(field, "notnull", ())
            self.take("null")
            return Comparison(field, "isnull", ())
        if kind == "between" and not negate:
            self.take()
            low = self.value()
            self.take("and")
            high = self.value()
            return BoolOp(
                "and", (Comparison(field, ">=", (low,)), Comparison(field, "<=", (high,)))
            )
        raise FilterSyntaxError(f"expected a comparison after {field!r}")


def parse(text: str) -> Node | None:
    """Parse a FilterString; None when it is empty."""
    if not text or not text.strip():
        return None
    return _Parser(text).parse()


def parse_order(text: str) -> list[tuple[str, bool]]:
    """Parse an OrderString such as "FDate DESC, FID ASC" into (key, descending) pairs."""
    out = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise FilterSyntaxError(f"cannot read the order {part.strip()!r}")
        out.append((words[0].lower(), len(words) == 2 and words[1].lower() == "desc"))
    return out
