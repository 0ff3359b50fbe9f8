"""The `matches` operator's engine: shop patterns in Python syntax, matched in linear time.

Why RE2 and not Python's `re` with a check of the pattern's shape: `re` backtracks, and
the patterns that make it take exponential *or polynomial* time are not only the famous
nested ones (`(a+)+$`). Two adjacent quantifiers suffice: `\\d*\\d*x` against a
10,000-digit remark takes `re` longer than two minutes (measured), and the shape checks
that would catch every such case (overlapping adjacent quantifiers, overlapping
alternatives, the implicit `.*?` in front of every search) refuse many harmless
patterns while still being a heuristic. RE2 (google-re2) matches in time linear in the
text for every pattern it accepts, so a crafted remark of any length cannot stall a run,
and what it cannot do in linear time — backreferences, lookahead / lookbehind, atomic
groups, possessive quantifiers — it refuses at `unyo check`. The text is therefore not
cut to a length before matching: a rule sees the whole remark, and a pattern RE2 must
run on its NFA still takes about 0.15 s per 10,000 characters at worst.

The shop writes Python's syntax (docs/rules.md). Its meaning is kept where RE2's differs:
`\\d`, `\\w` and `\\s` are Unicode classes in Python (漢字 is a `\\w`) but ASCII in RE2,
so they are rewritten to the Unicode classes before RE2 sees them; `\\Z`, `\\uXXXX`,
`\\UXXXXXXXX`, `\\N{name}`, `{,n}` and escaped non-ASCII characters are rewritten to
RE2's spelling. `\\b` and `\\B` stay RE2's (ASCII word characters only).
"""

from __future__ import annotations

import re
import unicodedata

import re2

from unyo.domain.rules import TextPattern

__all__ = ["compile_pattern"]

# Python's Unicode classes, spelt for RE2 (inside a character class, without brackets).
_DIGIT = r"\p{Nd}"
_WORD = r"\p{L}\p{N}_"
_SPACE = r"\s\p{Z}\x{1c}-\x{1f}\x{85}"
_OUTSIDE = {"d": _DIGIT, "D": r"\P{Nd}", "w": f"[{_WORD}]", "W": f"[^{_WORD}]",
            "s": f"[{_SPACE}]", "S": f"[^{_SPACE}]", "Z": r"\z"}
_INSIDE = {"d": _DIGIT, "D": r"\P{Nd}", "w": _WORD, "s": _SPACE}
_REFUSED = ("lookarounds, backreferences, atomic groups and possessive quantifiers are "
            "refused: they can make matching take very long")
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refusal on stderr
_OPTIONS.max_mem = 8 << 20  # per pattern; RE2 falls back to its slower (still linear) NFA


def compile_pattern(pattern: str) -> TextPattern:
    """A `matches` pattern compiled for linear-time search; ValueError says why it is refused."""
    try:
        re.compile(pattern)  # the syntax the shop writes, with Python's messages
    except re.error as e:
        raise ValueError(f"not a valid regular expression: {e}") from None
    except (OverflowError, RecursionError):
        raise ValueError("not a valid regular expression: too complex") from None
    spelt = _for_re2(pattern)  # ValueError for what has no RE2 spelling
    try:
        compiled: TextPattern = re2.compile(spelt, _OPTIONS)
    except re2.error as e:
        reason = e.args[0] if e.args else ""
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        if "too large" in reason or "repetition size" in reason:
            raise ValueError(f"this regular expression is too large ({reason}); use fewer or "
                             "smaller counted repeats such as {1,20}") from None
        raise ValueError(f"this regular expression cannot be used ({reason}); "
                         f"{_REFUSED}") from None
    return compiled


def _for_re2(pattern: str) -> str:
    """The pattern in RE2's spelling with Python's meaning (see the module docstring).

    `pattern` is valid Python syntax (checked before), so escapes are complete.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            i += 2
            if in_class and e in "WS":
                raise ValueError(f"\\{e} inside [ ] is not supported; write [^…] instead")
            table = _INSIDE if in_class else _OUTSIDE
            if e in table:
                out.append(table[e])
            elif e in "uU":
                width = 4 if e == "u" else 8
                out.append(f"\\x{{{pattern[i:i + width]}}}")
                i += width
            elif e == "N":
                end = pattern.index("}", i)
                out.append(f"\\x{{{ord(unicodedata.lookup(pattern[i + 1:end])):x}}}")
                i = end + 1
            elif not e.isascii():
                out.append(e)  # Python allows escaping any character; RE2 only ASCII ones
            else:
                out.append(c + e)
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is a literal in both syntaxes
                out.append("\\]")
                i += 1
            continue
        m = _OPEN_MIN.match(pattern, i) if c == "{" else None
        if m:  # Python reads {,n} as {0,n}; RE2 as the literal text
            out.append(f"{{0,{m.group(1)}}}")
            i = m.end()
            continue
        out.append(c)
        i += 1
    return "".join(out)


_OPEN_MIN = re.compile(r"\{,(\d+)\}")
