"""How large a shop file may be, checked before it is built: size, nesting and aliases.

A shop file is a few kilobytes of settings and rules. These limits are far above any
real one and far below what could exhaust the engine:

- `MAX_FILE_BYTES`: ruamel's round-trip loader takes seconds per hundred kilobytes.
- `MAX_DEPTH`: collections nested deeper (`[[[[…]]]]`) would make the recursive
  composer, `plain()` and every later walk of the tree run out of stack.
- `MAX_ALIASES` and `MAX_VALUES`: an alias (`*a`) repeats what its anchor (`&a`) names,
  so a few lines of aliases of aliases ("billion laughs") stand for 10⁹ values once
  anything copies them (the rule compiler does). Every value is counted as often as
  aliases repeat it, and the file is refused past the limit.

`yaml_problem` walks ruamel's event stream (no tree is built, memory is bounded by the
nesting limit) and stops at the first limit crossed, naming its line.
"""

from __future__ import annotations

from ruamel.yaml import YAML
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 100  # above what MAX_CONDITION_DEPTH of the rules needs (2 levels per all/any)
MAX_ALIASES = 100
MAX_VALUES = 100_000


def yaml_problem(text: str) -> tuple[int, str] | None:
    """(line, message) of the first limit the YAML text crosses, or None.

    Syntax errors are ruamel's MarkedYAMLError, raised as the loader would raise them.
    """
    if len(text) > MAX_FILE_BYTES:  # characters: never fewer than the bytes' limit needs
        return 1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"
    # The open collections, outermost first: their anchors and how many values each
    # stands for so far.
    anchors: list[str | None] = []
    sizes: list[int] = []
    expanded: dict[str, int] = {}  # anchor → values it stands for, once closed
    aliases = values = 0
    for event in YAML(typ="rt").parse(text):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        found = getattr(event, "anchor", None)  # end events have none
        anchor = None if found is None else str(found)
        if isinstance(event, CollectionStartEvent):
            if len(anchors) >= MAX_DEPTH:
                return line, f"nested more than {MAX_DEPTH} levels deep"
            anchors.append(anchor)
            sizes.append(1)
            values += 1
            continue
        if isinstance(event, CollectionEndEvent):
            anchor, size = anchors.pop(), sizes.pop()
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                return line, f"more than {MAX_ALIASES} aliases (*name)"
            if anchor in anchors:
                return line, f"the alias *{anchor} is inside its own anchor &{anchor}"
            size = expanded.get(str(anchor), 1)
            anchor = None  # an alias is not an anchor
            values += size
        elif isinstance(event, ScalarEvent):
            size = 1
            values += 1
        else:
            continue
        if anchor is not None:
            expanded[anchor] = size
        if sizes:
            sizes[-1] += size
        if values > MAX_VALUES:
            return line, (f"more than {MAX_VALUES:,} values (each alias counts as all it "
                          "repeats); is an alias repeating a large part of the file?")
    return None
