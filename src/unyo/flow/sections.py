"""Reading one settings section of the shop file with its line numbers.

Shared by the loaders of every section so each reports unknown keys and misplaced
values the same way: 'file:line: section.key: message'.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ruamel.yaml.comments import CommentedMap


def line_of(node: Any, key: Any = None, default: int = 0) -> int:
    """1-based line of `node` (or of `key` inside it); `default` when unknown."""
    try:
        if key is not None and isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return default


def entries(node: Any, section: str, known: Iterable[str], where: str, line: int,
            problems: list[str]) -> Iterator[tuple[str, Any, str, int]]:
    """(key, value, 'file:line', line) of each known key of the section's mapping.

    Unknown keys, and a section that is not a mapping, are added to `problems`; an
    empty section (every line commented out) yields nothing: the defaults hold.
    """
    if node is None:
        return
    if not isinstance(node, CommentedMap):
        problems.append(f"{where}:{line}: {section}: expected a mapping of settings")
        return
    names = set(known)
    for key, value in node.items():
        key_line = line_of(node, key, line)
        at = f"{where}:{key_line}"
        if str(key) not in names:
            problems.append(f"{at}: {section}.{key}: unknown key (known: "
                            f"{', '.join(sorted(names))})")
            continue
        yield str(key), value, at, key_line
