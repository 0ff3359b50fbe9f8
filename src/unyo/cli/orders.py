"""`unyo orders`: look at orders, and a person's touches (release, hold, cancel)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unyo.cli._common import (
    ConfigOpt,
    JsonOpt,
    fail,
    instant,
    open_store,
    out,
    print_json,
    shop_file,
)
from unyo.clock import JST
from unyo.domain import CANCEL_REASONS, DEFAULT_CANCEL_REASON, GateKind, Stage

app = typer.Typer(help="Look at orders.", no_args_is_help=True)


@app.command("list")
def orders_list(config: ConfigOpt = None,
                stage: Annotated[Stage | None, typer.Option(help="Only this stage.")] = None,
                gate: Annotated[GateKind | None, typer.Option(help="Only orders with an open gate of this kind.")] = None,  # noqa: E501
                limit: Annotated[int, typer.Option(min=1)] = 100,
                search: Annotated[str, typer.Option("--search", help="As in the dashboard's search box: any part of the order number, a name in kanji or kana (異体字 and widths folded), phone, mail, item or SKU.")] = "",  # noqa: E501
                failed: Annotated[bool, typer.Option("--failed", help="Orders the import cannot read (kept and retried), with the reason.")] = False,  # noqa: E501
                as_json: JsonOpt = False) -> None:
    """Orders, newest first."""
    cfg = shop_file(config)
    store = open_store(cfg.database_url)
    if failed:
        _failed_imports(store, cfg.shop_id, limit, as_json)
        return
    with store.transaction() as conn:
        rows = store.list_orders(conn, cfg.shop_id, stage=stage, gate=gate, limit=limit,
                                 search=search)
    store.close()
    _with_auto_cancel(rows)
    if as_json:
        print_json(rows)
        return
    from unyo.wording import gate_name, stage_name

    # At 80 columns the order number, the time and the amount stay whole (they are copied
    # and compared); the name and the reasons wrap first.
    table = Table()
    table.add_column("注文番号", no_wrap=True, min_width=len(rows[0]["order_number"])
                     if rows else 8)
    table.add_column("段階", no_wrap=True)
    table.add_column("RMS", no_wrap=True, justify="right")
    table.add_column("注文日時", no_wrap=True)
    table.add_column("合計", no_wrap=True, justify="right")
    table.add_column("注文者", overflow="fold", ratio=1)
    table.add_column("待ちの理由", overflow="fold", ratio=2)
    table.add_column("自動キャンセル", overflow="fold", ratio=1)
    for r in rows:  # buyer text is hostile until shown otherwise: escape it
        table.add_row(r["order_number"], stage_name(r["stage"]), str(r["rms_status"] or ""),
                      _jst(r["ordered_at"]), f"{r['total']:,}円", escape(r["buyer_name"] or ""),
                      escape("、".join(f"{gate_name(g['kind'])}: {g['reason']}"
                                      for g in r["open_gates"])),
                      r["auto_cancel"]["text"] if r["auto_cancel"] else "")
    out.print(table)


def _with_auto_cancel(rows: list[dict[str, Any]]) -> None:
    """Orders at RMS 100 not stopped: their days left before Rakuten's 14-day cancel."""
    from datetime import datetime

    from unyo.app.views import auto_cancel_view
    from unyo.clock import SystemClock
    from unyo.domain.confirmation import auto_cancel_of

    now = SystemClock().now()
    for r in rows:
        waiting = r["rms_status"] == 100 and r["stage"] in (Stage.processing, Stage.ready)
        r["auto_cancel"] = auto_cancel_view(auto_cancel_of(
            datetime.fromisoformat(r["ordered_at"]), now)) if waiting else None


def _failed_imports(store: Any, shop: str, limit: int, as_json: bool) -> None:

    with store.transaction() as conn:
        rows = store.failed_imports(conn, shop, limit)
    store.close()
    docs = [{"order_number": p.order_number,
             "first_seen_at": p.first_seen_at.astimezone(JST).isoformat(),
             "next_try_at": p.recheck_at.astimezone(JST).isoformat(),
             "attempts": p.attempts, "reason": p.last_error or ""} for p in rows]
    if as_json:
        print_json(docs)
        return
    if not docs:
        out.print("取り込めない注文はありません。")
        return
    table = Table()
    table.add_column("注文番号", no_wrap=True)  # copied from here into RMS: never cut
    for name in ("最初の検出", "次の再試行", "試行"):
        table.add_column(name)
    table.add_column("理由", overflow="fold")
    for d in docs:  # the reason may quote RMS's data: escape it
        table.add_row(d["order_number"], _jst(d["first_seen_at"]), _jst(d["next_try_at"]),
                      str(d["attempts"]), escape(d["reason"]))
    out.print(table)


def _jst(iso: str) -> str:
    return iso[:16].replace("T", " ")


NoteOpt = Annotated[str, typer.Option("--note", help="Why (kept on the order).")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who acts (default: $USER).")]


def _manual(config: Path | None, number: str, as_json: bool, action: Any) -> None:
    """Run a manual action and show the order's stage and open gates after it."""
    import os

    from unyo.app.manual import ManualActionError
    from unyo.clock import SystemClock

    cfg = shop_file(config)
    store = open_store(cfg.database_url)
    try:
        order = action(store, cfg.shop_id, SystemClock().now(),
                       os.environ.get("USER") or "cli")
    except ManualActionError as e:
        fail(str(e), 1)
    finally:
        store.close()
    doc = {"order_number": number, "stage": order.stage.value,
           "open_gates": [{"kind": g.kind.value, "reason": g.reason, "rule": g.rule}
                          for g in order.open_gates]}
    if as_json:
        print_json(doc)
    else:
        gates = ", ".join(f"{g['kind']}: {g['reason']}" for g in doc["open_gates"]) or "none"
        out.print(f"{number}: {order.stage.value}; open gates: {gates}", highlight=False,
                  markup=False, soft_wrap=True)


@app.command("release")
def orders_release(number: str,
                   gate: Annotated[GateKind, typer.Option(help="Which gates to close.")],
                   note: NoteOpt = "", by: ByOpt = None, config: ConfigOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Close the order's open gates of a kind (確認OK, 保留解除, 入金確認) — a manual touch."""
    from unyo.app.manual import release

    _manual(config, number, as_json, lambda store, shop, now, user: release(
        store, shop, number, gate, note=note, by=by or user, now=now))


@app.command("hold")
def orders_hold(number: str,
                until: Annotated[str | None, typer.Option(
                    help="Release by itself at this time (ISO-8601; JST if no offset).")] = None,
                release_date: Annotated[str | None, typer.Option(
                    help="A pre-order's release date (発売日, YYYY-MM-DD): kept on the order, "
                         "held until then (answers 発売日不明).")] = None,
                note: NoteOpt = "", by: ByOpt = None, config: ConfigOpt = None,
                as_json: JsonOpt = False) -> None:
    """Hold the order (保留) until a time or until released — a manual touch."""
    from unyo.app.manual import hold

    end = instant(until, "--until") if until else None
    day = _release_day(release_date) if release_date else None
    _manual(config, number, as_json, lambda store, shop, now, user: hold(
        store, shop, number, until=end, note=note, by=by or user, now=now, release_date=day))


def _release_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"--release-date: 発売日「{text}」を読み取れません（例: 2026-12-11）")


_REASONS_HELP = ", ".join(f"{c} {t}" for c, t in CANCEL_REASONS.items())


@app.command("cancel")
def orders_cancel(number: str,
                  reason: Annotated[int, typer.Option(
                      "--reason", metavar="CODE",
                      help=f"Rakuten's cancel reason (changeReasonDetailApply): {_REASONS_HELP}. "
                           "8–15 are the shop's reasons and count against the shop.")
                  ] = DEFAULT_CANCEL_REASON,
                  note: NoteOpt = "", by: ByOpt = None,
                  config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Cancel the order in unyo before hand-off, and at RMS (cancelOrder, through the outbox:
    sent by the worker; a refusal opens a 確認待ち gate)."""
    from unyo.app.manual import cancel

    if reason not in CANCEL_REASONS:
        fail(f"--reason: キャンセル理由 {reason} はありません（{_REASONS_HELP}）")
    _manual(config, number, as_json, lambda store, shop, now, user: cancel(
        store, shop, number, note=note, by=by or user, now=now, reason=reason))


@app.command("show")
def orders_show(number: str, config: ConfigOpt = None,
                as_json: JsonOpt = False) -> None:
    """One order with its gates, events and effects."""
    from unyo.app.views import order_view
    from unyo.clock import SystemClock

    cfg = shop_file(config)
    store = open_store(cfg.database_url)
    with store.transaction() as conn:
        doc = order_view(store, conn, cfg.shop_id, number, SystemClock().now())
    store.close()
    if doc is None:
        fail(f"no order {number} in shop {cfg.shop_id}", 1)
    if as_json:
        print_json(doc)
        return
    _print_order(doc)


def _when(value: Any) -> str:
    """A time as people here read it: JST, to the minute."""
    if isinstance(value, datetime):
        return value.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    return str(value or "")


def _print_order(doc: dict[str, Any]) -> None:
    """`orders show` as text: Japanese words, JST times, no keys (`--json` keeps them)."""
    from unyo.wording import (
        actor_text,
        effect_name,
        effect_status,
        event_text,
        gate_name,
        stage_name,
    )

    def say(text: str) -> None:
        out.print(text, highlight=False, markup=False, soft_wrap=True)

    o = doc["order"]
    say(f"{o['order_number']}  {stage_name(o['stage'])}  RMS {o['rms_status']}  "
        f"合計 {o['amounts']['total']:,}円")
    if doc["auto_cancel"]:
        say(f"  {doc['auto_cancel']['text']}（{doc['auto_cancel']['on']}）")
    merge = doc.get("merge")
    if merge and merge.get("merged_into"):
        say(f"  同梱: 注文 {merge['merged_into']} の荷物にまとめました（unyo でのみキャンセル、"
            f"楽天ではキャンセルしていません。その荷物は今 {stage_name(merge['survivor_stage'])}）")
        for f in merge["reports"]:
            say(f"  {merge['merged_into']} から{effect_name(f['kind'])}: "
                f"{effect_status(f['status'])}（{f['attempts']}回）{f['last_error'] or ''}")
    elif merge:
        for m in merge["merged"]:
            items = "、".join(f"{i['name']} × {i['units']}" for i in m["items"])
            say(f"  同梱: {m['order_number']}（合計 {m['total']:,}円、RMS {m['rms_status']}）: "
                f"{items}")
        say(f"  同梱: 荷物の合計 {merge['parcel_total']:,}円")
    for g in doc["gates"]:
        state = ("解除されていません" if g["closed_at"] is None else
                 f"{_when(g['closed_at'])} に解除（{actor_text(g['closed_by'])}）")
        say(f"  {gate_name(g['kind'])}: {g['reason']}（{state}）")
    for e in doc["events"]:
        say(f"  {_when(e['at'])}  {event_text(e['type'], e['data'])}  "
            f"[{actor_text(e['actor'], e['data'])}]")
    for f in doc["effects"]:
        say(f"  {effect_name(f['kind'])}: {effect_status(f['status'])}（{f['attempts']}回）"
            f"{' ' + f['last_error'] if f['last_error'] else ''}")
