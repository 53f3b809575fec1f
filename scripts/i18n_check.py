"""List the msgids of locale/<lang>/LC_MESSAGES/*.po that still need a translator.

After `make makemessages` (or `manage.py makemessages -l zh_Hans ...`) new strings arrive
with an empty msgstr, and changed ones arrive marked `#, fuzzy` with a guessed msgstr that
Django ignores. This script prints both kinds, with their source locations, and exits 1 when
there are any (0 when every entry is translated), so `make messages-check` can gate a merge.

Standard library only: the test suite reuses `parse_po` (tests/core/test_i18n.py).

    python scripts/i18n_check.py                  # every .po under locale/
    python scripts/i18n_check.py path/to/django.po
    python scripts/i18n_check.py --quiet          # counts only
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Entry:
    """One message of a .po file (the header is the entry whose msgid is empty)."""

    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    locations: list[str] = field(default_factory=list)
    obsolete: bool = False
    line: int = 0

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(value != "" for value in self.msgstr.values())


def _unquote(text: str, path: Path, lineno: int) -> str:
    text = text.strip()
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        raise ValueError(f"{path}:{lineno}: expected a quoted string, got {text!r}")
    # PO escapes (\n \t \" \\) are a subset of Python's; the files are UTF-8 text.
    return ast.literal_eval(text)


def parse_po(path: Path | str) -> list[Entry]:
    """Parse a .po file into entries (obsolete `#~` entries are returned with obsolete=True)."""
    path = Path(path)
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None  # which field continuation lines extend

    def finish() -> None:
        nonlocal entry, target
        if entry.line:
            entries.append(entry)
        entry = Entry()
        target = None

    def append(kind: str, index: int, value: str) -> None:
        if kind == "msgid":
            entry.msgid += value
        elif kind == "msgid_plural":
            entry.msgid_plural = (entry.msgid_plural or "") + value
        elif kind == "msgctxt":
            entry.msgctxt = (entry.msgctxt or "") + value
        else:
            entry.msgstr[index] = entry.msgstr.get(index, "") + value

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        obsolete = False
        if line.startswith("#~"):
            obsolete = True
            line = line[2:].strip()
            if line.startswith("|"):  # previous msgid of an obsolete entry
                continue
        if not line:
            finish()
            continue
        if line.startswith("#"):
            if entry.msgstr:  # a comment after a msgstr starts the next entry
                finish()
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            elif line.startswith("#:"):
                entry.locations.extend(line[2:].split())
            entry.line = entry.line or lineno
            continue
        if obsolete:
            entry.obsolete = True
        if line.startswith('"'):
            if target is None:
                raise ValueError(f"{path}:{lineno}: continuation line outside an entry")
            append(target[0], target[1], _unquote(line, path, lineno))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgctxt" and entry.msgstr:
            finish()  # an entry without a blank line before it
        entry.line = entry.line or lineno
        if keyword.startswith("msgstr[") and keyword.endswith("]"):
            target = ("msgstr", int(keyword[7:-1]))
        elif keyword in ("msgid", "msgid_plural", "msgctxt", "msgstr"):
            target = (keyword, 0)
        else:
            raise ValueError(f"{path}:{lineno}: unknown keyword {keyword!r}")
        if target[0] == "msgstr":
            entry.msgstr.setdefault(target[1], "")
        append(target[0], target[1], _unquote(rest, path, lineno))
    finish()
    return entries


def pending(entries: list[Entry]) -> list[Entry]:
    """Live entries (not the header, not obsolete) that are untranslated or fuzzy."""
    return [
        entry
        for entry in entries
        if not entry.is_header and not entry.obsolete and (entry.fuzzy or not entry.translated)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="default: locale/*/LC_MESSAGES/*.po")
    parser.add_argument("--quiet", action="store_true", help="print the counts only")
    args = parser.parse_args(argv)
    out = sys.stdout
    files = args.files or sorted((BASE_DIR / "locale").glob("*/LC_MESSAGES/*.po"))
    if not files:
        out.write("no .po files found under locale/\n")
        return 1
    status = 0
    for path in files:
        entries = [e for e in parse_po(path) if not e.is_header and not e.obsolete]
        todo = pending(entries)
        out.write(f"{path}: {len(entries)} messages, {len(todo)} to translate\n")
        if todo:
            status = 1
        if args.quiet:
            continue
        for entry in todo:
            state = "fuzzy" if entry.fuzzy else "untranslated"
            where = entry.locations[0] if entry.locations else f"line {entry.line}"
            context = f" [context {entry.msgctxt!r}]" if entry.msgctxt else ""
            out.write(f"  {path.name}:{entry.line} {state} ({where}){context}: {entry.msgid!r}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
