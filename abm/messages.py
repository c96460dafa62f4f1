r"""How text from files and the command line is shown in a message: printable, one line.

Assumption (docs/security.md): any string that reaches a message can come from a hostile
file or command line (a name, a question, a path, a YAML key), and the message goes to a
terminal, a log or a CI page. So every such string is shown through :func:`printable`:
control characters (ANSI and OSC escape sequences start with ESC, a newline would split
the message), bidirectional overrides, zero-width and other format characters, line and
paragraph separators and lone surrogates are written as Python escapes (``\x1b``,
``\n``, ``\u202e``); everything else, including accented letters, is kept. Escaping
leaves printable text unchanged, so a message escaped twice reads the same.

:func:`shown` quotes one value (a string in quotes, shortened). Neither ever shows the
content of a data file: readers name the file, the line and what was expected.
"""

from __future__ import annotations

from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: Any, limit: int | None = None) -> str:
    """``text`` as one printable line: every non-printable character escaped.

    Args:
        text: Anything; it is shown through ``str``.
        limit: At most this many characters (the rest becomes ``...``); None: all.
    """
    text = str(text)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else _escape(c) for c in text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text


def shown(value: Any, limit: int = 60) -> str:
    """One value for a message: a string in quotes, anything else as its ``repr``.

    Mappings and long lists are described, not shown; the result is printable and at
    most ``limit`` characters.
    """
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple) and len(repr(value)) > limit:
        return f"a list of {len(value)} items"
    if isinstance(value, str):
        return f"'{printable(value, limit - 2)}'"
    return printable(repr(value), limit)
