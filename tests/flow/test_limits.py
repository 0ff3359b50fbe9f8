"""A shop file cannot exhaust the engine: size, nesting, aliases and condition depth are
bounded, and crossing a bound is `unyo check`'s usual `file:line` error (issue 14, item 7)."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from unyo.domain.rules import MAX_CONDITION_DEPTH
from unyo.flow.config import ConfigError, load_config, parse_config
from unyo.flow.limits import MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES


def alias_bomb(levels: int, under: str = "rules") -> str:
    """'Billion laughs': each line ten aliases of the line before (10^levels values)."""
    lines = ["shop:", "  id: a", "a0: &a0 [" + ", ".join(['"lol"'] * 10) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, levels)]
    return "\n".join([*lines, f"{under}: *a{levels - 1}", ""])


def nested_not(depth: int) -> str:
    condition = "{field: gift, op: is_true}"
    for _ in range(depth):
        condition = "{not: " + condition + "}"
    return f"shop:\n  id: a\nrules:\n  - name: x\n    when: {condition}\n    then: [{{check: a}}]\n"


def nested_all_block(depth: int) -> str:
    """all: [all: [... ]] written in block style, the way a person would indent it."""
    lines = ["rules:", "  - name: x", "    when:"]
    indent = "      "
    for _ in range(depth):
        lines.append(f"{indent}all:")
        indent += "  "
        lines.append(f"{indent}- ")
        indent += "  "
    lines[-1] += "{field: gift, op: is_true}"
    return "\n".join([*lines, "    then: [{check: a}]", ""])


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "shop.yaml", env={})
    return e.value.problems


# ---- aliases -------------------------------------------------------------------------------

def test_an_alias_bomb_is_refused_at_its_line_quickly_and_in_little_memory():
    tracemalloc.start()
    started = time.perf_counter()
    found = problems(alias_bomb(9))  # 10⁹ values once copied
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert found == ["shop.yaml:7: YAML error: more than 100,000 values (each alias counts as "
                     "all it repeats); is an alias repeating a large part of the file?"]
    assert elapsed < 10 and peak < 8 * 1024 * 1024  # unrefused it would never end


def test_a_smaller_bomb_under_rules_is_refused_before_the_compiler_copies_it():
    assert problems(alias_bomb(6))[0].startswith("shop.yaml:7: YAML error: more than 100,000")


def test_an_alias_inside_its_own_anchor_is_refused():
    assert problems("shop:\n  id: a\nrules: &r\n  - *r\n") == [
        "shop.yaml:4: YAML error: the alias *r is inside its own anchor &r"]


def test_more_aliases_than_the_limit_are_refused():
    text = "x: &x 1\ny: [" + ", ".join(["*x"] * (MAX_ALIASES + 1)) + "]\n"
    assert problems(text) == [f"shop.yaml:2: YAML error: more than {MAX_ALIASES} aliases (*name)"]


def test_ordinary_aliases_still_load():
    text = ("shop:\n  id: a\nrules:\n"
            "  - name: x\n    when: &gift {field: gift, op: is_true}\n"
            "    then: &then [{check: a}]\n"
            "  - name: y\n    when: {not: *gift}\n    then: *then\n")
    config = parse_config(text, "shop.yaml", env={})
    assert [r.name for r in config.rules] == ["x", "y"]


# ---- nesting -------------------------------------------------------------------------------

def test_deeply_nested_flow_collections_are_refused_at_their_line():
    text = "shop:\n  id: a\n  name: " + "[" * 5000 + "]" * 5000 + "\n"
    assert problems(text) == [f"shop.yaml:3: YAML error: nested more than {MAX_DEPTH} levels deep"]


def test_nesting_up_to_the_limit_is_only_a_wrong_value():
    text = "shop:\n  id: a\n  name: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\n"
    assert problems(text) == ["shop.yaml:3: shop.name: expected text"]


def test_conditions_nested_past_the_limit_name_the_rule_and_line():
    (found,) = problems(nested_not(MAX_CONDITION_DEPTH + 1))
    assert found.startswith("shop.yaml:5: rules[0].when.not.not.")
    assert found.endswith(f": conditions nested more than {MAX_CONDITION_DEPTH} levels deep "
                          "(all / any / not); split the rule or flatten the condition")


def test_conditions_nested_up_to_the_limit_compile():
    assert len(parse_config(nested_not(MAX_CONDITION_DEPTH), "shop.yaml", env={}).rules) == 1
    assert len(parse_config(nested_all_block(MAX_CONDITION_DEPTH), "shop.yaml",
                            env={}).rules) == 1


@pytest.mark.parametrize("depth", [MAX_CONDITION_DEPTH + 1, 60, 200])
def test_conditions_nested_hundreds_deep_are_a_line_not_a_recursion_error(depth: int):
    (found,) = problems(nested_all_block(depth))
    assert found.startswith("shop.yaml:")
    assert "nested more than" in found


# ---- size and characters -------------------------------------------------------------------

def test_a_file_past_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path):
    path = tmp_path / "big.yaml"
    path.write_text("shop:\n  id: a\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path}:1: the file is larger than 256 KiB$"):
        load_config(path, env={})


def test_a_control_character_is_a_yaml_error_at_its_line():
    assert problems("shop:\n  id: a\n  name: a\x08b\n") == [
        "shop.yaml:3: YAML error: the character U+0008 is not allowed in a YAML file"]
