"""`unyo check` and `unyo schema`: the shop file validated before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from unyo.cli import app
from unyo.flow.config import render_init

runner = CliRunner()


def check(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "unyo.yaml"
    path.write_text(text, encoding="utf-8")
    return path, runner.invoke(app, ["check", str(path)])


def test_the_init_file_checks_and_matches_the_schema(tmp_path: Path):
    path, result = check(tmp_path, render_init("myshop", "テスト店"))
    assert result.exit_code == 0, result.stderr
    assert "ok — shop myshop, 16 rules" in result.stdout
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    # the substitutions the file's comment shows are valid too
    doc["warehouse"]["substitutions"] = {"𠮷": "吉", "U+200B": None,
                                         "—": {"name": "ー", "other": "－"}}
    jsonschema.validate(doc, schema)
    doc["warehouse"]["substitutions"] = {"—": {"name": "ー"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


@pytest.mark.parametrize("bad", [
    {"rules": [{"name": "a", "when": {"field": "totl", "op": "gt", "value": 1},
                "then": [{"check": "x"}]}]},
    {"rules": [{"name": "a", "when": {"field": "total", "op": "gt", "value": 1},
                "then": [{"chek": "x"}]}]},
    {"import": {"intervall": "1m"}},
    {"shop": {"id": "x", "url": "y"}},
])
def test_the_schema_rejects_what_the_loader_rejects(tmp_path: Path, bad: dict):
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.parametrize(("text", "expected"), [
    ("shop:\n  id: x\nrules:\n  - name: a\n    when: {field: totl, op: gt, value: 1}\n"
     "    then: [{check: x}]\n",
     ":5: rules[0].when.field: unknown field 'totl' (did you mean total?)"),
    ("rules:\n  - name: a\n    when:\n      all:\n        - {field: gift, op: is_true}\n"
     "        - {field: total, op: contains, value: 1}\n    then: [{check: x}]\n",
     ":6: rules[0].when.all[1].op: 'contains' is not an operator for total"),
    ("rules:\n  - name: a\n    when: {field: gift, op: is_true}\n    then:\n"
     "      - hold: {reason: 待ち}\n",
     ":5: rules[0].then[0].hold: a hold ends with exactly one of"),
    ("rules:\n  - name: a\n    when: {field: gift, op: is_true}\n    then: [{tag: t}]\n"
     "  - name: a\n    when: {field: gift, op: is_true}\n    then: [{tag: t}]\n",
     ":5: rules[1].name: 'a' is already the name of rules[0]"),
])
def test_rule_mistakes_have_file_line_and_key(tmp_path: Path, text: str, expected: str):
    path, result = check(tmp_path, text)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{path}{expected}" in result.stderr


@pytest.mark.parametrize("attack", [
    "shop:\n  id: x\nrules: !!python/object/apply:os.system ['touch {marker}']\n",
    "shop:\n  id: x\nrules:\n  - !!python/name:os.system\n",
    "rules:\n  - name: !!python/object/new:os.system ['touch {marker}']\n"
    "    when: {{field: gift, op: is_true}}\n    then: [{{check: x}}]\n",
    "rules:\n  - name: a\n    description: !!python/object/apply:os.system ['touch {marker}']\n"
    "    when: {{field: gift, op: is_true}}\n    then: [{{check: x}}]\n",
    "rules:\n  - name: a\n    when: {{field: remarks, op: contains, value: !custom x}}\n"
    "    then: [{{check: x}}]\n",
])
def test_yaml_tags_never_build_objects(tmp_path: Path, attack: str):
    marker = tmp_path / "pwned"
    path, result = check(tmp_path, attack.format(marker=marker))
    assert result.exit_code == 2  # refused with an error...
    assert str(path) in result.stderr
    assert not marker.exists()  # ...and nothing ran


def test_every_broken_rule_is_reported_at_once(tmp_path: Path):
    path, result = check(tmp_path, (
        "rules:\n"
        "  - name: a\n    when: {field: totl, op: gt, value: 1}\n    then: [{check: x}]\n"
        "  - name: b\n    when: {field: gift, op: is_true}\n    then: [{check: x}]\n"
        "  - name: c\n    when: {field: gift, op: is_true}\n    then: [{chek: x}]\n"))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{path}:3: rules[0].when.field: unknown field 'totl' (did you mean total?)",
                     f"{path}:10: rules[2].then[0].chek: unknown action 'chek'; use check, "
                     "hold, set, tag, merge or confirm (did you mean check?)"]
