"""Every string marked for translation has an English entry.

The strings are read the way `makemessages` reads them (xgettext over the Python code and
over the templates turned into Python by Django's templatize), then held against the
catalogs Django loads for English: the project's and the apps' own. A string added without
English, or left fuzzy by an edit of its Chinese, fails here with its file and line."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", "node_modules", "static", "staticfiles", "test-artifacts", ".git", "bench", "tests"}
KEYWORDS = [
    "--keyword=gettext_noop",
    "--keyword=gettext_lazy",
    "--keyword=ngettext_lazy:1,2",
    "--keyword=pgettext:1c,2",
    "--keyword=npgettext:1c,2,3",
    "--keyword=pgettext_lazy:1c,2",
    "--keyword=npgettext_lazy:1c,2,3",
]


def _sources(suffix: str):
    for path in sorted(ROOT.rglob(f"*{suffix}")):
        parts = path.relative_to(ROOT).parts
        if SKIP.isdisjoint(parts):
            yield path


@pytest.mark.skipif(not shutil.which("xgettext"), reason="GNU gettext is not installed")
def test_every_marked_string_has_english(tmp_path):
    listed = []
    for path in _sources(".py"):
        listed.append(str(path))
    for path in _sources(".html"):
        # Keep the template's relative path in the name so a failure points at it.
        target = tmp_path / "templates" / (str(path.relative_to(ROOT)) + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(templatize(path.read_text(encoding="utf-8"), origin=str(path)), encoding="utf-8")
        listed.append(str(target))
    (tmp_path / "files.txt").write_text("\n".join(listed), encoding="utf-8")
    pot = tmp_path / "strings.pot"
    subprocess.run(
        [
            "xgettext",
            "--language=Python",
            "--from-code=UTF-8",
            *KEYWORDS,
            "--files-from",
            str(tmp_path / "files.txt"),
            "-o",
            str(pot),
        ],
        check=True,
    )
    catalogs = [str(ROOT / "locale/en/LC_MESSAGES/django.po")] + [
        str(p) for p in sorted(ROOT.glob("*/locale/en/LC_MESSAGES/django.po"))
    ]
    english = tmp_path / "en.po"
    subprocess.run(["msgcat", "--no-wrap", "--use-first", *catalogs, "-o", str(english)], check=True)
    subprocess.run(
        ["msgattrib", "--no-wrap", "--translated", "--no-fuzzy", "-o", str(english), str(english)], check=True
    )
    have = {key for key, _ in _entries(english)}
    missing = [
        f"{where.replace(str(tmp_path / 'templates') + '/', '').replace(str(ROOT) + '/', '')}: {key[1]!r}"
        for key, where in _entries(pot)
        if key[1] and key not in have
    ]
    assert not missing, f"{len(missing)} strings without English:\n" + "\n".join(missing[:60])


def _entries(path: Path):
    """(msgctxt, msgid) and the first source location of each entry of an unwrapped .po/.pot."""
    context, where, key, field = None, "", None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#: ") and not where:
            where = line[3:].split()[0]
        elif line.startswith("msgctxt "):
            context, field = _unquote(line[8:]), "msgctxt"
        elif line.startswith("msgid "):
            key, field = (context, _unquote(line[6:])), "msgid"
        elif line.startswith('"') and field == "msgctxt":  # a string continued on the next line
            context += _unquote(line)
        elif line.startswith('"') and field == "msgid":
            key = (key[0], key[1] + _unquote(line))
        elif line.startswith("msg"):
            field = None
        elif not line.strip() and key is not None:
            yield key, where
            context, where, key, field = None, "", None, None
        elif not line.strip():
            context, where = None, ""


def _unquote(text: str) -> str:
    return ast.literal_eval(text)  # a PO string's escapes are Python's
