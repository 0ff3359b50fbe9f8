"""Print batches on the dashboard (自社出荷, `warehouse.type: self`): print the 出荷OK orders
as a batch, download its 納品書 PDF, print it again (再発行), take an order out of it.

Printing goes through `unyo.app.batches`, as `unyo print` does, with `by=` the
logged-in user. The dashboard has no RMS connection: it prints orders as the worker's
sync last read them.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from unyo.adapters.warehouse.slips import SlipPrinter, SlipTemplateError
from unyo.app.batches import (
    BatchError,
    Printing,
    batch_outputs,
    print_batch,
    reprint_batch,
    take_out,
)
from unyo.domain import Stage
from unyo.web.app import Refused, render, session_of, web_of

router = APIRouter()
_DONE = frozenset({"printed_now", "reprinted", "taken_out"})  # what the page confirms


def _scope(request: Request) -> Printing:
    web = web_of(request)
    if not (web.config.warehouse.enabled and web.config.warehouse.self_shipping):
        raise Refused(404, "not_found")
    return Printing(web.store, web.config, web.clock)


def _printer(request: Request) -> SlipPrinter:
    try:
        return SlipPrinter.load(web_of(request).config)
    except SlipTemplateError as e:
        raise BatchError("納品書のテンプレートを使えません: " + " / ".join(e.problems)) from None


def _page(request: Request, status: int = 200, error: str = "", batch: int | None = None,
          **values: object) -> Response:
    scope = _scope(request)
    web = web_of(request)
    with web.store.transaction() as conn:
        batches = web.store.batches(conn, web.shop)
        ready = len(web.store.order_numbers_in_stages(conn, web.shop, [Stage.ready]))
        shown = web.store.batch(conn, web.shop, batch) if batch is not None else None
        members = web.store.batch_orders(conn, shown.id) if shown is not None else []
        outputs = web.store.batch_outputs(conn, shown.id) if shown is not None else []
    if batch is not None and shown is None:
        raise Refused(404, "not_found")
    values.setdefault("done", "")
    return render(request, "batches.j2", status=status, batches=batches, ready=ready,
                  batch=shown, members=members, outputs=outputs, error=error,
                  registration=scope.config.invoice.registration_number, **values)


@router.get("/batches")
def batches_page(request: Request) -> Response:
    return _page(request)


@router.get("/batches/{batch_id}")
def batch_page(request: Request, batch_id: int) -> Response:
    done = request.query_params.get("done", "")
    return _page(request, batch=batch_id, done=done if done in _DONE else "")


@router.post("/batches")
def print_new(request: Request) -> Response:
    scope = _scope(request)
    try:
        result = print_batch(scope, _printer(request), by=session_of(request).user)
    except BatchError as e:
        return _page(request, status=409, error=str(e))
    web_of(request).dashboard.forget_counts()
    if result.batch is None:
        return _page(request, status=409, error="印刷する出荷OKの注文はありません")
    if result.error:
        return _page(request, status=500, batch=result.batch,
                     error=f"納品書を作れませんでした: {result.error}")
    return RedirectResponse(f"/batches/{result.batch}?done=printed_now", status_code=303)


@router.post("/batches/{batch_id}/reprint")
def reprint(request: Request, batch_id: int) -> Response:
    scope = _scope(request)
    try:
        result = reprint_batch(scope, _printer(request), batch_id, by=session_of(request).user)
    except BatchError as e:
        return _page(request, status=409, batch=batch_id, error=str(e))
    if result.error:
        return _page(request, status=500, batch=batch_id,
                     error=f"納品書を作れませんでした: {result.error}")
    return RedirectResponse(f"/batches/{batch_id}?done=reprinted", status_code=303)


@router.post("/batches/{batch_id}/take-out")
def take_out_order(request: Request, batch_id: int,
                   number: Annotated[str, Form(max_length=64)],
                   note: Annotated[str, Form(max_length=200)] = "") -> Response:
    scope = _scope(request)
    try:
        take_out(scope, batch_id, number, by=session_of(request).user, note=note.strip())
    except BatchError as e:
        return _page(request, status=409, batch=batch_id, error=str(e))
    web_of(request).dashboard.forget_counts()
    return RedirectResponse(f"/batches/{batch_id}?done=taken_out", status_code=303)


@router.get("/batches/{batch_id}/files/{seq}")
def download(request: Request, batch_id: int, seq: int) -> Response:
    scope = _scope(request)
    try:
        outputs = batch_outputs(scope, batch_id)
    except BatchError:
        raise Refused(404, "not_found") from None
    if not 1 <= seq <= len(outputs):
        raise Refused(404, "not_found")
    out = outputs[seq - 1]
    ascii_name = f"batch-{batch_id}-{seq}" + (".pdf" if out.media_type == "application/pdf"
                                              else "")
    return Response(out.content, media_type=out.media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(out.name, safe='')}"})
