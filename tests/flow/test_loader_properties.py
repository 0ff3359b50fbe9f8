"""Any YAML text gives a Config or `file:line` ConfigErrors, never another exception,
within a time and memory bound (issue 14, item 2: the flow-file loader).

Three kinds of text: YAML-ish token soup (anchors, aliases, flow brackets, tags, block
indicators), valid shop files mutated (slices cut, doubled, tokens inserted), and
documents of random settings dumped by ruamel itself.
"""

from __future__ import annotations

import io
import re
import time
import tracemalloc

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from unyo.flow.config import Config, ConfigError, parse_config, render_init

WHERE = "shop.yaml"
PROBLEM = re.compile(rf"^{re.escape(WHERE)}:\d+: \S")
SECONDS = 30.0  # per text, under tracemalloc: "did not hang" (minutes), not a speed figure
PEAK_BYTES = 64 * 1024 * 1024

TOKENS = ["shop:", "id: a", "name: 店", "rules:", "- name: r", "when:", "then:",
          "{field: remarks, op: matches, value: '(a+)+$'}", "{field: total, op: ge, value: 1}",
          "[{check: 確認}]", "all:", "any:", "not:", "mail:", "warehouse:", "import:",
          "interval: 1m", "&a", "*a", "&b", "*b", "<<: *a", "!!python/object/apply:os.system",
          "!custom", "!!binary", "%YAML 1.2", "---", "...", "[", "]", "{", "}", ",", ":",
          "- ", "? ", "|", ">", "#", "'", '"', "\\", "\t", "\n", "\n  ", "\n    ", " ",
          "~", "null", ".inf", "0x1F", "2026-12-01", "1e400", "\ufeff", "\x00", "\x85",
          "\u2028", "\ud800", "-9999", "y", "no"]

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _loads_or_names_its_lines(text: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        config = parse_config(text, WHERE, env={})
    except ConfigError as e:
        assert e.problems, "a ConfigError lists its problems"
        bad = [p for p in e.problems if not PROBLEM.match(p)]
        assert not bad, bad
    else:
        assert isinstance(config, Config)
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < SECONDS, f"{elapsed:.1f} s"
    assert peak < PEAK_BYTES, f"{peak // 1024 // 1024} MiB"


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, levels)]
    return "\n".join([*lines, f"rules: *a{levels - 1}", ""])


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=60).map("".join))
@example(_alias_bomb(6))  # 10⁶ values once the rule compiler copies them
@example("shop:\n  name: " + "[" * 2000 + "]" * 2000 + "\n")  # the composer's recursion
@example("shop:\n  id: a\b\n")  # a control character
def test_token_soup_loads_or_is_refused_with_lines(text: str) -> None:
    _loads_or_names_its_lines(text)


VALID = render_init("shop", "テスト店")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        at = draw(st.integers(0, n))
        kind = draw(st.sampled_from(["cut", "double", "insert", "indent"]))
        end = min(n, at + draw(st.integers(0, 200)))
        if kind == "cut":
            text = text[:at] + text[end:]
        elif kind == "double":
            text = text[:end] + text[at:end] * draw(st.integers(1, 30)) + text[end:]
        elif kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            text = text[:at] + " " * draw(st.integers(1, 6)) + text[at:]
    return text


@SETTINGS
@given(mutated())
def test_a_mutated_shop_file_loads_or_is_refused_with_lines(text: str) -> None:
    _loads_or_names_its_lines(text)


KEYS = ["shop", "id", "name", "rules", "when", "then", "field", "op", "value", "all", "any",
        "not", "check", "hold", "tag", "set", "merge", "import", "interval", "mail",
        "warehouse", "enabled", "rms", "timeout", "database", "url", "sync", "outbox"]
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True) | st.text(max_size=12) | st.sampled_from(KEYS))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner,
                                        max_size=4), max_leaves=30)


def _dump(doc: object, flow: bool) -> str:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), st.booleans())
def test_a_generated_document_loads_or_is_refused_with_lines(doc: dict[str, object],
                                                             flow: bool) -> None:
    _loads_or_names_its_lines(_dump(doc, flow))
