"""The JSON Schema of the shop file, generated from the settings and the rule vocabulary.

Generated rather than written by hand so it can never drift from what the loader
accepts: every settings dataclass becomes an object with its fields (floats are
durations: seconds or text like 30s, 5m, 1h), and the rules get the field and
operator names of `unyo.domain.rules`. `unyo schema` prints it; editors with a YAML
language server complete and check the file with it
(`# yaml-language-server: $schema=./unyo.schema.json`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from unyo.domain.rules import FIELDS, HOLD_FROM_FIELDS, OPERATORS, SETTABLE
from unyo.flow.config import (
    AlertSettings,
    ImportSettings,
    OutboxSettings,
    RmsSettings,
    SyncSettings,
    WebSettings,
)
from unyo.flow.invoice import InvoiceSettings
from unyo.flow.mail import MailSettings
from unyo.flow.warehouse import WarehouseSettings

DURATION = {"oneOf": [{"type": "number", "minimum": 0},
                      {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"}],
            "description": "seconds, or text such as 30s, 5m, 1h"}


def _settings(cls: type) -> dict[str, Any]:
    props: dict[str, Any] = {}
    default = cls()
    for f in dataclasses.fields(cls):
        value = getattr(default, f.name)
        if dataclasses.is_dataclass(value):
            props[f.name] = _settings(type(value))
        elif isinstance(value, bool):
            props[f.name] = {"type": "boolean", "default": value}
        elif isinstance(value, int):
            props[f.name] = {"type": "integer", "minimum": 0, "default": value}
        elif isinstance(value, float):
            props[f.name] = {**DURATION, "default": value}
        elif isinstance(value, tuple) and f.name == "methods":  # settlementMethodCodes
            props[f.name] = {"type": ["array", "null"],
                             "items": {"type": "integer", "minimum": 1, "maximum": 99}}
        elif isinstance(value, tuple):
            props[f.name] = {"type": ["array", "null"], "items": {"type": "string"},
                             "default": list(value)}
        elif f.name == "substitutions":  # character → text, or {name, other}; null removes
            props[f.name] = {"type": ["object", "null"], "additionalProperties": {"anyOf": [
                {"type": ["string", "null"]},
                {"type": "object", "required": ["name", "other"], "additionalProperties": False,
                 "properties": {"name": {"type": "string"}, "other": {"type": "string"}}}]}}
        elif f.name == "default_carrier":  # delivery method or * → code or carrier name
            props[f.name] = {"type": "object", "minProperties": 1,
                             "additionalProperties": {"type": ["string", "integer"]}}
        elif isinstance(value, dict):
            props[f.name] = {"type": "object", "additionalProperties": {"type": "string"}}
        elif f.name == "start_at":  # YAML reads an unquoted date-time as a timestamp
            props[f.name] = {"type": ["string", "null"], "default": None,
                             "description": "date-time, JST when no zone is given "
                                            "(e.g. 2026-12-10 09:00)"}
        else:
            props[f.name] = {"type": "string", "default": value}
    return {"type": ["object", "null"], "properties": props, "additionalProperties": False}


def _rules() -> dict[str, Any]:
    operators = sorted({op for ops in OPERATORS.values() for op in ops})
    row = {"type": "object", "required": ["field", "op"], "additionalProperties": False,
           "properties": {
               "field": {"enum": sorted(FIELDS),
                         "description": "; ".join(f"{f.name}: {f.label} ({f.type.value})"
                                                  for f in FIELDS.values())},
               "op": {"enum": operators}, "value": {}}}
    condition = {"oneOf": [
        {"$ref": "#/$defs/row"},
        {"type": "object", "required": ["all"], "additionalProperties": False,
         "properties": {"all": {"type": "array", "minItems": 1,
                                "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "required": ["any"], "additionalProperties": False,
         "properties": {"any": {"type": "array", "minItems": 1,
                                "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "required": ["not"], "additionalProperties": False,
         "properties": {"not": {"$ref": "#/$defs/condition"}}},
    ]}
    hold = {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
        "until": {"type": "string", "description": "ISO-8601 with offset"},
        "for": {"type": "string", "pattern": r"^\d+\s*(m|h|d)$"},
        "from": {"enum": sorted(HOLD_FROM_FIELDS)},
        "days_before": {"type": "integer", "minimum": 0, "maximum": 60},
        "next_business_day": {"const": True},
        "while": {"const": True, "description": "保留 while the rule's condition holds"},
        "reason": {"type": "string"}}}
    action = {"oneOf": [
        {"type": "object", "required": ["check"], "additionalProperties": False,
         "properties": {"check": {"type": "string", "minLength": 1,
                                  "description": "確認待ち with this message"}}},
        {"type": "object", "required": ["hold"], "additionalProperties": False,
         "properties": {"hold": hold}},
        {"type": "object", "required": ["set"], "additionalProperties": False,
         "properties": {"set": {"type": "object", "minProperties": 1, "maxProperties": 1,
                                "additionalProperties": False,
                                "properties": {k: {"type": "string"} for k in SETTABLE}}}},
        {"type": "object", "required": ["tag"], "additionalProperties": False,
         "properties": {"tag": {"type": "string", "minLength": 1, "maxLength": 50}}},
        {"type": "object", "required": ["merge"], "additionalProperties": False,
         "properties": {"merge": {
             "description": "同梱: merge with the same buyer's open orders to the same "
                            "address (true, or {tag: …} to tag the surviving order; "
                            "unmergeable: the 確認待ち reason when an open order of the "
                            "buyer cannot share the parcel, e.g. {merge_blockers})",
             "oneOf": [{"const": True},
                       {"type": "object", "additionalProperties": False,
                        "properties": {"tag": {"type": "string", "minLength": 1,
                                               "maxLength": 50},
                                       "unmergeable": {"type": "string", "minLength": 1,
                                                       "maxLength": 200}}}]}}},
        {"type": "object", "required": ["confirm"], "additionalProperties": False,
         "properties": {"confirm": {
             "description": "注文確認を保留: keep confirmOrder back until a person releases "
                            "it (wait, or {wait: true, reason: …})",
             "oneOf": [{"const": "wait"},
                       {"type": "object", "required": ["wait"], "additionalProperties": False,
                        "properties": {"wait": {"const": True},
                                       "reason": {"type": "string", "maxLength": 200}}}]}}},
    ]}
    rule = {"type": "object", "required": ["name", "when", "then"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 80},
                           "description": {"type": "string"},
                           "enabled": {"type": "boolean", "default": True},
                           "when": {"$ref": "#/$defs/condition"},
                           "then": {"type": "array", "minItems": 1,
                                    "items": {"$ref": "#/$defs/action"}}}}
    return {"row": row, "condition": condition, "action": action, "rule": rule}


def build_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "unyo shop file (unyo.yaml)",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "shop": {"type": "object", "additionalProperties": False, "properties": {
                "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                "name": {"type": ["string", "null"]},
                **{k: {"type": ["string", "null"]} for k in ("address", "phone", "email",
                                                             "logo")}}},
            "mode": {"enum": ["live", "shadow"], "default": "live",
                     "description": "shadow: import and run the rules, act nowhere"},
            "database": {"type": "object", "additionalProperties": False,
                         "properties": {"url": {"type": "string"}}},
            "rms": _settings(RmsSettings),
            "import": _settings(ImportSettings),
            "sync": _settings(SyncSettings),
            "outbox": _settings(OutboxSettings),
            "web": _settings(WebSettings),
            "alerts": _settings(AlertSettings),
            "mail": _settings(MailSettings),
            "warehouse": _settings(WarehouseSettings),
            "invoice": _settings(InvoiceSettings),
            "rules": {"type": ["array", "null"], "items": {"$ref": "#/$defs/rule"}},
        },
        "$defs": _rules(),
    }
