"""The `rules:` list of the shop file: compiled by `unyo.domain.rules`, errors given lines.

The compiler names a mistake by its key path (`rules[2].when.all[0].op`); this module
walks the same path through the ruamel document to report the file and line.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from unyo.domain.printing import PrintSpec
from unyo.domain.remarks import NO_TEMPLATE, RemarksTemplate
from unyo.domain.rules import CompiledRule, RuleError, RuleErrors, compile_rules
from unyo.flow.patterns import compile_pattern

_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def plain(node: Any, path: str = "rules") -> Any:
    """ruamel's round-trip containers as plain dicts and lists (the compiler's input).

    A YAML tag (`!!python/...`, `!custom`) is refused wherever it stands: the file is
    data, and a tag is an attempt to make it something else.
    """
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None) if tag is not None else None
    if value:
        shown = str(value).replace("tag:yaml.org,2002:", "!!")
        raise RuleError(path, f"YAML tags are not allowed here ({shown})")
    if isinstance(node, dict):
        return {str(k): plain(v, f"{path}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v, f"{path}[{n}]") for n, v in enumerate(node)]
    return node


def line_of(doc: Any, path: str, default: int) -> int:
    """The 1-based line of the key or item that `path` (as RuleError gives it) names."""
    line = default
    node = doc
    for name, index in _STEP.findall("." + path):
        try:
            if name and isinstance(node, CommentedMap) and name in node:
                line = int(node.lc.key(name)[0]) + 1
                node = node[name]
            elif index and isinstance(node, CommentedSeq) and int(index) < len(node):
                line = int(node.lc.item(int(index))[0]) + 1
                node = node[int(index)]
            else:
                break
        except (AttributeError, KeyError, TypeError, IndexError):
            break
    return line


def parse_rules(node: Any, where: str, line: int, problems: list[str],
                remarks: RemarksTemplate = NO_TEMPLATE, printing: PrintSpec | None = None,
                ) -> tuple[CompiledRule, ...]:
    """Compile the rules; a mistake becomes 'file:line: key path: message'. `remarks` is
    the shop's own remarks template (import.remarks_headers / remarks_answers),
    `printing` the warehouse's encoding and substitutions (warehouse.encoding /
    substitutions)."""
    try:
        # plain() raises RuleError on a YAML tag
        return compile_rules(plain(node), patterns=compile_pattern, remarks=remarks,
                             printing=printing)
    except RuleError as e:
        holder = CommentedMap({"rules": node})
        holder.lc.add_kv_line_col("rules", [line - 1, 0, line - 1, 0])
        for one in e.errors if isinstance(e, RuleErrors) else [e]:
            problems.append(f"{where}:{line_of(holder, one.path, line)}: {one.path}: "
                            f"{one.message}")
        return ()
