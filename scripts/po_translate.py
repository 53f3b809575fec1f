"""Fill translations in a .po catalogue from a JSON object {msgid: msgstr} (or, for plural
entries, {msgid: [msgstr0, ...]}), clearing the fuzzy flag of each entry it sets.

    .venv/bin/python scripts/po_translate.py translations.json
    .venv/bin/python scripts/po_translate.py - < translations.json
    .venv/bin/python scripts/po_translate.py --list      # what still needs a translator, as JSON

Then `make messages` compiles the .mo. The catalogue defaults to locale/zh_Hans/LC_MESSAGES.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polib

PO = Path(__file__).resolve().parent.parent / "locale/zh_Hans/LC_MESSAGES/django.po"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", help="JSON file, or - for standard input")
    parser.add_argument("--po", default=str(PO))
    parser.add_argument("--list", action="store_true", help="print the entries left to translate")
    args = parser.parse_args()
    catalogue = polib.pofile(args.po, wrapwidth=79)
    if args.list:
        todo = {
            e.msgid: e.msgstr
            for e in catalogue
            if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)
        }
        json.dump(todo, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    if not args.source:
        parser.error("give a JSON file, - or --list")
    text = sys.stdin.read() if args.source == "-" else Path(args.source).read_text("utf-8")
    wanted: dict = json.loads(text)
    found = 0
    for entry in catalogue:
        if entry.msgid not in wanted:
            continue
        value = wanted[entry.msgid]
        if entry.msgid_plural:
            values = value if isinstance(value, list) else [value]
            entry.msgstr_plural = dict(enumerate(values))
        else:
            entry.msgstr = value
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = None
        entry.previous_msgid_plural = None
        found += 1
    catalogue.save(args.po)
    missing = set(wanted) - {e.msgid for e in catalogue}
    for msgid in sorted(missing):
        sys.stderr.write(f"not in the catalogue: {msgid!r}\n")
    sys.stdout.write(f"{found} entries set\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
