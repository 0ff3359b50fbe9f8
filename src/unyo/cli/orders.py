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
        if as_json:
            from unyo.app.views import gate_causes
            from unyo.clock import SystemClock

            total = store.count_orders(conn, cfg.shop_id, stage=stage, gate=gate,
                                      search=search)
            gate_causes(store, conn, cfg, rows, SystemClock().now())
    store.close()
    _with_auto_cancel(rows)
    if as_json:
        print_json({"total": total, "limit": limit, "orders": rows})
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


def _text_opt(help_: str) -> Any:
    return typer.Option(help=help_, show_default=False)


@app.command("edit")
def orders_edit(number: str,
                recipient_family_name: Annotated[str | None, _text_opt("送付先の姓.")] = None,
                recipient_first_name: Annotated[str | None, _text_opt("送付先の名.")] = None,
                recipient_family_kana: Annotated[str | None, _text_opt("姓（カナ）.")] = None,
                recipient_first_kana: Annotated[str | None, _text_opt("名（カナ）.")] = None,
                recipient_postal_code: Annotated[str | None, _text_opt(
                    "郵便番号 (7 digits; hyphen and full-width digits allowed).")] = None,
                recipient_prefecture: Annotated[str | None, _text_opt("都道府県.")] = None,
                recipient_city: Annotated[str | None, _text_opt("市区町村.")] = None,
                recipient_address: Annotated[str | None, _text_opt("番地・建物名.")] = None,
                recipient_phone: Annotated[str | None, _text_opt("電話番号.")] = None,
                memo: Annotated[str | None, _text_opt(
                    "ひとことメモ (the shop's memo at RMS, ≤ 1000 characters; '' clears it).")
                ] = None,
                delivery_date: Annotated[str | None, _text_opt(
                    "お届け日 requested by the buyer (YYYY-MM-DD).")] = None,
                delivery_time: Annotated[str | None, _text_opt(
                    "お届け時間帯: 指定なし, 午前, 午後, or a slot such as 14-16.")] = None,
                basket: Annotated[int | None, typer.Option(
                    help="The destination (basketId) of an order with several.")] = None,
                version: Annotated[int | None, typer.Option(
                    help="Refuse if the order is no longer at this version (as shown by "
                         "`orders show --json`).")] = None,
                note: NoteOpt = "", by: ByOpt = None, config: ConfigOpt = None,
                as_json: JsonOpt = False) -> None:
    """Edit the order's recipient (送付先), ひとことメモ, delivery date or time slot before
    hand-off: kept on the order, the shop's rules run again, and written back to RMS
    (updateOrderSender / updateOrderMemo, through the outbox: sent by the worker; a
    refusal opens a 確認待ち gate). Options not given keep their value."""
    import os

    from unyo.app.manual import (
        EditError,
        ManualActionError,
        StaleOrder,
        edit_details,
        edit_recipient,
    )
    from unyo.clock import SystemClock

    given = {"family_name": recipient_family_name, "first_name": recipient_first_name,
             "family_name_kana": recipient_family_kana,
             "first_name_kana": recipient_first_kana, "postal_code": recipient_postal_code,
             "prefecture": recipient_prefecture, "city": recipient_city,
             "sub_address": recipient_address, "phone": recipient_phone}
    values = {k: v for k, v in given.items() if v is not None}
    details = {k: v for k, v in (("memo", memo), ("delivery_date", delivery_date),
                                 ("shipping_term", delivery_time)) if v is not None}
    if not values and not details:
        fail("変更がありません（--recipient-postal-code や --memo などで指定してください）")
    cfg = shop_file(config)
    store = open_store(cfg.database_url)
    who = by or os.environ.get("USER") or "cli"
    try:
        if values:
            order = edit_recipient(store, cfg, SystemClock(), number, values, note=note,
                                   by=who, version=version, basket_id=basket)
        if details:
            order = edit_details(store, cfg, SystemClock(), number, details, note=note,
                                 by=who, version=None if values else version)
    except EditError as e:
        fail("入力を確認してください: " + "、".join(e.problems))
    except StaleOrder:
        fail(f"注文 {number} は他の操作で更新されました（--version {version}）。"
             "`unyo orders show` で確かめてからやり直してください", 1)
    except ManualActionError as e:
        fail(str(e), 1)
    finally:
        store.close()
    package = next(p for p in order.channel.packages if basket in (None, p.basket_id))
    r = package.recipient
    address = r.address.prefecture + r.address.city + r.address.sub_address
    doc: dict[str, Any] = {
           "order_number": number, "stage": order.stage.value, "version": order.version,
           "recipient": {"name": r.name, "postal_code": r.address.postal_code,
                         "address": address, "phone": r.phone},
           "open_gates": [{"kind": g.kind.value, "reason": g.reason, "rule": g.rule}
                          for g in order.open_gates]}
    c = order.channel
    doc["memo"], doc["shipping_term"] = c.memo, c.shipping_term
    doc["delivery_date"] = c.requested_delivery_date.isoformat() \
        if c.requested_delivery_date else None
    if as_json:
        print_json(doc)
        return
    from unyo.wording import gate_name, stage_name

    gates = "、".join(f"{gate_name(g.kind)}: {g.reason}" for g in order.open_gates) or "なし"
    lines = []
    if values:
        lines.append(f"{number}: 送付先を {r.name} 〒{r.address.postal_code} {address} "
                     f"{r.phone} に変更しました（楽天へ送信予定）")
    if details:
        lines.append(f"{number}: ひとことメモ・お届け日時を変更しました（楽天へ送信予定）: "
                     f"お届け日 {doc['delivery_date'] or 'なし'}、時間帯 {_term(c.shipping_term)}")
    lines.append(f"段階: {stage_name(order.stage)}、待ちの理由: {gates}")
    out.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)


def _term(code: str) -> str:
    """RMS shippingTerm in words: 0 指定なし, 1 午前中, 2 午後, 9 その他, h1h2 as h1-h2時."""
    named = {"": "指定なし", "0": "指定なし", "1": "午前中", "2": "午後", "9": "その他"}
    if code in named:
        return named[code]
    return f"{code[:-2]}-{code[-2:]}時" if code.isdigit() and len(code) in (3, 4) else code


@app.command("show")
def orders_show(number: str, config: ConfigOpt = None,
                explain: Annotated[bool, typer.Option("--explain", help="Each rule with its verdict on the order and the values it read (remarks without template, release date, characters, postal code, merge).")] = False,  # noqa: E501
                as_json: JsonOpt = False) -> None:
    """One order with its gates, events and effects."""
    from unyo.app.views import explain_view, order_view
    from unyo.clock import SystemClock

    cfg = shop_file(config)
    store = open_store(cfg.database_url)
    now = SystemClock().now()
    with store.transaction() as conn:
        doc = order_view(store, conn, cfg.shop_id, number, now)
        if doc is not None and explain:
            doc["explain"] = explain_view(store, conn, cfg, number, now)
    store.close()
    if doc is None:
        fail(f"no order {number} in shop {cfg.shop_id}", 1)
    if as_json:
        print_json(doc)
        return
    _print_order(doc)
    if explain:
        _print_explain(doc["explain"])


def _print_explain(e: dict[str, Any]) -> None:
    """The rules' verdicts as text: Japanese words, no keys."""
    def say(text: str) -> None:
        out.print(text, highlight=False, markup=False, soft_wrap=True)

    say("")
    say("ルールの判定" + ("" if e["evaluated"] else
                      "（倉庫連携後の注文にはルールを実行しません: すべて未評価）"))
    for r in e["rules"]:
        say(f"  {r['name']}: {r['verdict_text']}" + (
            f" → {'、'.join(r['actions'])}" if r["verdict"] == "matched" else ""))
        for w in r["rows"]:
            value = f"（値: {w['value']}）" if w["verdict"] != "not_evaluated" else ""
            say(f"    {w['verdict_text']}: {w['condition']}{value}")
        for reason in r["open_gates"]:
            say(f"    開いている確認・保留: {reason}")
    say("ルールが読んだ値")
    for d in e["derived"]:
        say(f"  {d['label']}: {d['value']}")


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
