"""Plain English for numbers and names, shared by reports, plots and messages.

Names in a scenario are the user's own (``strikers``, ``union``), so possessives and
plurals are made by rule rather than written out: a name ending in ``s`` takes a bare
apostrophe (``strikers'``), any other takes ``'s``; a count takes the plural unless it
is exactly one.
"""

from __future__ import annotations


def possessive(name: str) -> str:
    """``strikers`` -> ``strikers'``, ``union`` -> ``union's``."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 collective``, ``2 collectives``, ``0 collectives`` (``nouns``: an irregular plural)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"
