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
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from unyo.app.manual import (
    ManualActionError,
    StaleOrder,
    cancel,
    hold,
    release,
    release_gate,
    set_warehouse_note,
)
from unyo.clock import JST
from unyo.domain import CANCEL_REASONS, GateKind, Order
from unyo.domain.stages import Action, allowed
from unyo.web.app import Refused, session_of, web_of
from unyo.web.pages import RELEASABLE, order_page

router = APIRouter()

MAX_NOTE = 200
NoteField = Annotated[str, Form(max_length=2000)]
VersionField = Annotated[int, Form()]


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


def _act(request: Request, number: str, form: dict[str, str], run: object) -> Response:
    """Run an action; on success back to the order, on a refusal the page with why."""
    try:
        run()  # type: ignore[operator]
        web_of(request).dashboard.forget_counts()
    except ActionError as e:
        return order_page(request, number, status=e.status, error=e.key,
                          error_params=dict(e.params), form=form)
    except StaleOrder:  # changed between the check above and the write: the same answer
        return order_page(request, number, status=409, error="err_version", form=form)
    except ManualActionError as e:
        return order_page(request, number, status=409, error="err_action",
                          error_params={"detail": str(e)}, form=form)
    return RedirectResponse(f"/orders/{number}?done=1", status_code=303)


@router.post("/orders/{number}/release")
def release_one(request: Request, number: str, seq: Annotated[int, Form()],
                version: VersionField, note: NoteField = "") -> Response:
    web, who = web_of(request), session_of(request).user

    def run() -> None:
        order = _load(request, number, version)
        if not any(g.seq == seq and g.is_open for g in order.gates):
            raise ActionError("err_gate_closed", 409)
        release_gate(web.store, web.shop, number, seq, note=_note(note), by=who,
                     now=web.clock.now(), version=version)

    return _act(request, number, {"note": note}, run)


def parse_local(text: str) -> datetime:
    """A time as typed (2026-12-01T09:00 from a datetime-local input, or with a space);
    JST unless it says otherwise."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return value if value.tzinfo else value.replace(tzinfo=JST)


@router.post("/orders/{number}/hold")
def hold_order(request: Request, number: str, version: VersionField,
               until: Annotated[str, Form(max_length=40)] = "",
               release_date: Annotated[str, Form(max_length=40)] = "",
               note: NoteField = "") -> Response:
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
                                  "release_date": release_date}, run)


@router.post("/orders/{number}/cancel")
def cancel_order(request: Request, number: str, version: VersionField,
                 note: NoteField = "",
                 reason: Annotated[str, Form(max_length=10)] = "",
                 confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
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

    return _act(request, number, {"cancel_note": note, "cancel_reason": reason}, run)


@router.post("/orders/{number}/warehouse-note")
def warehouse_note(request: Request, number: str, version: VersionField,
                   warehouse_note: NoteField = "") -> Response:
    web, who = web_of(request), session_of(request).user

    def run() -> None:
        order = _load(request, number, version)
        if not allowed(order, Action.set_field):
            raise ActionError("err_note_stage", 409)
        set_warehouse_note(web.store, web.shop, number, _note(warehouse_note), by=who,
                           now=web.clock.now(), version=version)

    return _act(request, number, {"warehouse_note": warehouse_note}, run)


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
