"""Every page of the dashboard, in Japanese and English, after a sandbox day: no raw
identifier, enum value, dict or UTC timestamp reaches what a person reads (issue 18
item 3).

The day is the demo's own (`run_demo`: RMS emulator over HTTP, the warehouse emulator,
the SMTP sink), so orders are in every stage, with effects, mails and alerts; the
dashboard is the real server it starts, crawled over HTTP while it still serves.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from lxml import html as lxml_html

from unyo.clock import JST
from unyo.demo import DemoDashboard, run_demo
from unyo.domain import EffectKind, EventType, GateKind, Stage

# What must never be read on a screen: the fixed list of the issue, every enum value
# that is not a plain word, and the shapes of reprs and UTC times.
RAW = sorted({"order_imported", "gate_opened", "confirm_order", "kind=", "(channel)",
              "(person)", "(system)", "rms_status=", "total=", "send_mail", "None",
              "{'", "':", "Stage.", "GateKind.", "EffectKind.", "EventType.", "Actor.",
              *(m.value for e in (EventType, EffectKind, GateKind, Stage) for m in e
                if "_" in m.value)})
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00|\bUTC\b")
VERSION = re.compile(r"\bv\d+\b")
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


def readable(page: str) -> str:
    """The text a person reads: the visible text and the attributes shown or spoken."""
    doc = lxml_html.fromstring(page)
    for hidden in doc.xpath("//script|//style|//template"):
        hidden.drop_tree()
    parts = [doc.text_content()]
    for name in SHOWN_ATTRIBUTES:
        parts += doc.xpath(f"//@{name}")
    parts += doc.xpath("//input[@type='submit' or @type='button']/@value")
    return "\n".join(str(p) for p in parts)


def problems(text: str) -> list[str]:
    found = [raw for raw in RAW if raw in text]
    found += [m.group(0) for m in UTC_TIME.finditer(text)]
    found += [m.group(0) for m in VERSION.finditer(text)]
    return found


def _crawl(url: str, user: str, password: str) -> dict[str, list[str]]:
    """Log in, visit every page and every order, in both languages: what each shows raw."""
    seen: dict[str, list[str]] = {}
    with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        assert c.post("/login", data={"user": user, "password": password, "next": "/",
                                      "csrf_token": token.group(1)}).status_code == 200
        for lang in ("ja", "en"):
            c.get("/", params={"lang": lang})
            pages = ["/", "/report", "/flow", "/mails", "/admin/settings", "/admin/users"]
            for tab in ("payment", "check", "hold", "confirm", "ready", "at_warehouse",
                        "shipped", "cancelled", "all"):
                pages.append(f"/queue?tab={tab}")
            listing = c.get("/queue?tab=all").text
            orders = sorted(set(re.findall(r'href="(/orders/[0-9-]+)[?"]', listing)))
            assert orders, "the day left no order to look at"
            pages += orders
            for path in pages:
                r = c.get(path)
                assert r.status_code == 200, (path, r.status_code)
                found = problems(readable(r.text))
                if found:
                    seen[f"{lang} {path}"] = sorted(set(found))
    return seen


@pytest.fixture(scope="module")
def crawled() -> dict[str, Any]:
    result: dict[str, Any] = {}

    def started(url: str, user: str, password: str) -> None:
        result["login"] = (url, user, password)

    def finished(summary: dict[str, Any]) -> None:
        result["summary"] = summary
        result["seen"] = _crawl(*result["login"])

    run_demo(orders=60, seed=5, speed=0,
             day_start=datetime(2026, 12, 1, tzinfo=JST),
             dashboard=DemoDashboard(started, finished))
    return result


def test_no_page_shows_a_raw_identifier_in_either_language(crawled: dict[str, Any]) -> None:
    assert crawled["summary"]["imported"] > 0
    assert crawled["seen"] == {}


@pytest.mark.parametrize(("text", "found"), [
    ("注文確認 confirm_order 完了", ["confirm_order"]),
    ("取込 kind=payment", ["kind="]),
    ("2026-12-01T09:00:00+00:00", ["+00:00", "2026-12-01T09:00"]),
    ("自動（unyo） 2026-12-01 18:00", []),
    ("{'to': 'shipped'}", ["':", "{'"]),
    ("版 v6", ["v6"]),
])
def test_the_checker_finds_what_it_looks_for(text: str, found: list[str]) -> None:
    assert sorted(problems(text)) == sorted(found)
