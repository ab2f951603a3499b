"""Fail when a user-facing string has no Dutch translation, or the compiled catalogue is stale.

Runs makemessages (when gettext is installed) to find every translatable string in the code,
checks each has a non-fuzzy Dutch translation, then puts the committed catalogue back.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "nl" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def untranslated(po: polib.POFile) -> list[str]:
    return [
        entry.msgid
        for entry in po
        if not entry.obsolete and (not entry.translated() or "fuzzy" in entry.flags)
    ]


def main() -> int:
    if not PO.exists():
        print(f"missing {PO.relative_to(ROOT)}: run `make messages` and translate")
        return 1
    problems: list[str] = []
    committed = PO.read_bytes()
    if shutil.which("xgettext"):
        try:
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "makemessages",
                    "-l",
                    "nl",
                    "--no-location",
                    "-i",
                    ".venv",
                    "-i",
                    "staticfiles",
                    "-i",
                    "var",
                    "-i",
                    "node_modules",
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            missing = untranslated(polib.pofile(str(PO)))
        finally:
            PO.write_bytes(committed)
        problems += [f"no Dutch translation: {msgid!r}" for msgid in missing]
    else:
        print("gettext is not installed: checking the committed catalogue only")
    po = polib.pofile(str(PO))
    problems += [f"no Dutch translation: {msgid!r}" for msgid in untranslated(po)]
    compiled = (
        {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(MO))} if MO.exists() else {}
    )
    stale = [
        e.msgid
        for e in po.translated_entries()
        if not e.msgid_plural and compiled.get((e.msgctxt, e.msgid)) != e.msgstr
    ]
    problems += [f"django.mo is stale for {msgid!r}: run `make messages`" for msgid in stale]
    for problem in sorted(set(problems)):
        print(problem)
    if problems:
        print(f"{len(set(problems))} translation problem(s)")
        return 1
    print(f"translations complete: {len(po.translated_entries())} Dutch strings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
