"""`unyo print`: 納品書 batches for shops that pack themselves (`warehouse.type: self`).

Without options it prints the 出荷OK orders as a new batch and writes its files (the
納品書 PDF) into `--out`; `--batch N` prints batch N again (再発行); `--take-out ORDER
--batch N` takes an order out of its batch; `--list` lists the latest batches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from unyo.cli._common import ConfigOpt, JsonOpt, fail, open_store, out, print_json, shop_file
from unyo.clock import JST


def print_(config: ConfigOpt = None,
           order: Annotated[list[str] | None, typer.Option(
               "--order", help="Print only these ready orders (repeatable).")] = None,
           batch: Annotated[int | None, typer.Option(
               "--batch", help="Print this batch again (再発行), or with --take-out the "
                               "batch to take the order out of.")] = None,
           take_out: Annotated[str | None, typer.Option(
               "--take-out", help="Take this order out of --batch (back to 出荷OK).")] = None,
           list_: Annotated[bool, typer.Option("--list", help="List the latest batches.")
                            ] = False,
           out_dir: Annotated[Path, typer.Option(
               "--out", help="Folder the batch's files are written to.")] = Path("."),
           note: Annotated[str, typer.Option("--note", help="Why (with --take-out).")] = "",
           by: Annotated[str | None, typer.Option("--by", help="Who prints (default: $USER).")
                         ] = None,
           as_json: JsonOpt = False) -> None:
    """Print 納品書 (packing slips) of the 出荷OK orders as a batch: they become 印刷済."""
    from unyo.app.batches import BatchError, Printing, print_batch, reprint_batch
    from unyo.app.batches import take_out as take_out_of
    from unyo.wiring import SetupError, build_context, build_printer

    cfg = shop_file(config)
    who = by or os.environ.get("USER") or "cli"
    if take_out is not None and batch is None:
        fail("--take-out needs --batch (the batch the order is in)")
    store = open_store(cfg.database_url)
    try:
        if list_:
            return _list(store, cfg.shop_id, as_json)
        try:
            ctx = Printing.of(build_context(cfg, store=store))
            if take_out is not None and batch is not None:
                o = take_out_of(ctx, batch, take_out, by=who, note=note)
                from unyo.wording import stage_name

                doc: dict[str, Any] = {"batch": batch, "order_number": take_out,
                                       "stage": o.stage.value}
                if as_json:
                    print_json(doc)
                else:
                    out.print(f"{take_out} を印刷バッチ {batch} から外しました"
                              f"（{stage_name(o.stage)}）", highlight=False, markup=False,
                              soft_wrap=True)
                return None
            printer = build_printer(cfg)
            result = (reprint_batch(ctx, printer, batch, by=who) if batch is not None
                      else print_batch(ctx, printer, by=who, numbers=order or None))
        except (SetupError, BatchError) as e:
            fail(str(e), 1 if isinstance(e, BatchError) else 2)
        files = []
        if result.outputs:
            out_dir.mkdir(parents=True, exist_ok=True)
            for o_ in result.outputs:
                path = out_dir / o_.name
                path.write_bytes(o_.content)
                files.append(str(path))
        doc = {"batch": result.batch, "orders": result.orders, "slips": result.slips,
               "reissue": result.reissue, "files": files, "skipped": result.skipped,
               "error": result.error}
        if as_json:
            print_json(doc)
        elif result.batch is None:
            out.print("印刷する出荷OKの注文はありません", highlight=False)
        else:
            head = "再発行" if result.reissue else "印刷"
            out.print(f"印刷バッチ {result.batch}: {len(result.orders)}件・納品書 "
                      f"{result.slips}枚を{head}しました", highlight=False, markup=False)
            for f in files:
                out.print(f"  {f}", highlight=False, markup=False, soft_wrap=True)
        for number, why in result.skipped.items():
            if not as_json:
                out.print(f"  {number}: 印刷していません（{why}）", highlight=False,
                          markup=False, soft_wrap=True)
        if result.error:
            if not as_json:
                out.print(f"納品書を作れませんでした: {result.error}（--batch "
                          f"{result.batch} でもう一度印刷できます）", highlight=False,
                          markup=False, soft_wrap=True)
            raise typer.Exit(1)
        return None
    finally:
        store.close()


def _list(store: Any, shop: str, as_json: bool) -> None:
    with store.transaction() as conn:
        rows = store.batches(conn, shop)
    docs = [{"batch": r.id, "created_at": r.created_at.astimezone(JST).isoformat(),
             "created_by": r.created_by, "orders": r.orders, "printed": r.printed,
             "printed_at": r.printed_at.astimezone(JST).isoformat() if r.printed_at else None}
            for r in rows]
    if as_json:
        print_json({"batches": docs})
        return
    if not docs:
        out.print("印刷バッチはまだありません", highlight=False)
    for d in docs:
        out.print(f"印刷バッチ {d['batch']}: {d['created_at'][:16].replace('T', ' ')} "
                  f"{d['created_by']}・{d['orders']}件・印刷 {d['printed']}回",
                  highlight=False, markup=False, soft_wrap=True)
