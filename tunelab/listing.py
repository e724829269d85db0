"""Lists of names in messages, bounded: a table with 10,000 unexpected columns must still give
an error that fits on one screen line, not 150 KB."""

from __future__ import annotations

from collections.abc import Iterable

#: How many names a message spells out before it gives only the count of the rest.
SHOWN_NAMES = 5


def some_names(names: Iterable[object], limit: int = SHOWN_NAMES, quote: bool = True) -> str:
    """``'a', 'b', 'c'``, or ``'a', 'b', 'c', 'd', 'e' and 9,995 more (10,000 in all)``."""
    items = list(names)
    shown = ", ".join(repr(n) if quote else str(n) for n in items[:limit])
    if len(items) <= limit:
        return shown
    return f"{shown} and {len(items) - limit:,} more ({len(items):,} in all)"
