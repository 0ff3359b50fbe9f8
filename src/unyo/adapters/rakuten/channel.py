"""`RakutenChannel`: the app's `OrderChannel` port on top of `RmsClient` + mapping.

Translates RMS errors into the port's `ChannelAuthError` / `ChannelUnavailable`
and RMS per-order messages into domain outcomes. Search covers the statuses an
importable order can have (100 注文確認待ち to 400 変更確定待ち).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import httpx
import orjson

from unyo.adapters.rakuten.client import (
    MAX_NUMBERS_PER_CALL,
    BasketShipping,
    RmsClient,
    ShippingRowResult,
)
from unyo.adapters.rakuten.errors import (
    MappingError,
    RmsAuthError,
    RmsError,
    RmsMalformedResponseError,
    RmsMessage,
    RmsRequestError,
    RmsUnavailableError,
)
from unyo.adapters.rakuten.mapping import ORDER_NUMBER, channel_order_from_rms
from unyo.app.ports import (
    CancelOutcome,
    ChannelAuthError,
    ChannelError,
    ChannelUnavailable,
    ConfirmOutcome,
    FetchResult,
    ReportOutcome,
    ShippingUpdate,
    UpdateOutcome,
)
from unyo.clock import Clock, SystemClock
from unyo.flow import RmsSettings

SEARCH_PROGRESS = (100, 200, 300, 400)
CHANGE_PROGRESS = (400, 800, 900)  # what the sync looks for at every turn
log = logging.getLogger(__name__)

# confirmOrder answers (reference/rakuten-rms.md, confirmOrder): ERROR_102 already
# cancelled (the sync will cancel it), ERROR_103 not in 100 (already confirmed), ERROR_105
# postage not set (-9999). unyo never sends an order whose postage is -9999 (it waits for
# the postage: unyo.domain.confirmation); ERROR_105 can still come when the postage was
# unset in RMS after unyo read it, and then a person looks.
_CONFIRM_DONE = ("_ERROR_103",)
_CONFIRM_CANCELLED = ("_ERROR_102",)
# updateOrderShippingAsync processes in the background; results are polled. The first
# poll waits this long (the emulator takes 10 s), later ones back off up to the limit.
ASYNC_FIRST_POLL = 10.0
ASYNC_MAX_POLLS = 12

_CONFIRM_PERMANENT = {
    "_ERROR_105": "送料が未確定のため注文確認できません（RMSで送料を確定してください）",
}



def model_digest(model: dict[str, object]) -> str:
    """A digest of an OrderModel as RMS sent it (key order included: the same answer
    digests the same; anything else only costs a full mapping)."""
    return hashlib.blake2b(orjson.dumps(model), digest_size=16).hexdigest()


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except RmsAuthError as e:
        raise ChannelAuthError(str(e)) from e
    except RmsUnavailableError as e:
        raise ChannelUnavailable(str(e), may_have_applied=e.may_have_applied) from e
    except RmsMalformedResponseError as e:
        # a cut answer to a write: RMS processed it (the client says "may have applied")
        raise ChannelUnavailable(str(e), may_have_applied=e.may_have_applied) from e
    except RmsError as e:
        raise ChannelError(str(e)) from e


# cancelOrder (reference/rakuten-rms.md: status 100/200/300 only, not once a ship date is
# set). The refusal codes are the emulator's *(unconfirmed at Rakuten)*: ERROR_102 already
# cancelled (done: nothing more to do), ERROR_103 status beyond 300, ERROR_104 a ship date
# is set. Any other refusal is permanent too: sending the same request again will not help.
_CANCEL_DONE = ("_ERROR_102",)
_CANCEL_REFUSED = {
    "_ERROR_103": "発送待ちより後のステータス",
    "_ERROR_104": "発送日が設定済み",
}


# updateOrderSender (reference/rakuten-rms.md: status 100/200/300 only). The refusal codes
# are the emulator's *(unconfirmed at Rakuten)*: ERROR_101 no such order, ERROR_103 status
# outside 100–300, 009–012 a value RMS does not take (its message names the field).
_UPDATE_REFUSED = {
    "_ERROR_101": "楽天にこの注文がありません",
    "_ERROR_103": "楽天の受注ステータスが発送待ちより後のため変更できません",
}


def sender_model(recipient: Mapping[str, str]) -> dict[str, str]:
    """A recipient (`unyo.domain.edits` values) as RMS's SenderModel: the postal code in
    its 3 + 4 digits (zipCode1/2), the phone in its three parts (phoneNumber1-3)."""
    from unyo.domain.edits import only_digits, phone_parts

    code = only_digits(recipient["postal_code"])
    phone = phone_parts(recipient["phone"])
    return {"zipCode1": code[:3], "zipCode2": code[3:], "prefecture": recipient["prefecture"],
            "city": recipient["city"], "subAddress": recipient["sub_address"],
            "familyName": recipient["family_name"], "firstName": recipient["first_name"],
            "familyNameKana": recipient["family_name_kana"],
            "firstNameKana": recipient["first_name_kana"],
            "phoneNumber1": phone[0], "phoneNumber2": phone[1], "phoneNumber3": phone[2]}


class RakutenChannel:
    """Rakuten RMS as an `OrderChannel`."""

    def __init__(self, client: RmsClient, http: httpx.Client | None = None,
                 clock: Clock | None = None) -> None:
        self.client = client
        self._http = http
        self._clock = clock or SystemClock()  # waits between async result polls

    @classmethod
    def from_settings(cls, settings: RmsSettings, *, service_secret: str, license_key: str,
                      clock: Clock, http: httpx.Client | None = None) -> RakutenChannel:
        http = http or httpx.Client(timeout=settings.timeout)
        return cls(RmsClient(http, base_url=settings.base_url, service_secret=service_secret,
                             license_key=license_key, clock=clock,
                             min_interval=settings.min_interval,
                             max_retries=settings.max_retries, deadline=settings.deadline),
                   http, clock)

    @property
    def calls(self) -> Counter[str]:
        return self.client.calls

    def search(self, start: datetime, end: datetime) -> list[str]:
        with _translated():
            return self.client.search_order(start=start, end=end, date_type=1,
                                            progress=list(SEARCH_PROGRESS))

    def search_changes(self, start: datetime, end: datetime) -> list[str]:
        """Numbers of orders placed in [start, end] that RMS shows with a change waiting
        (400 変更確定待ち) or cancelled (800/900)."""
        with _translated():
            return self.client.search_order(start=start, end=end, date_type=1,
                                            progress=list(CHANGE_PROGRESS))

    def search_settled(self, start: datetime, end: datetime) -> list[str]:
        """Numbers of orders whose payment RMS settled (注文確定日, the move to 300) in
        [start, end]."""
        with _translated():
            return self.client.search_order(start=start, end=end, date_type=3)

    def fetch(self, numbers: Sequence[str]) -> FetchResult:
        return self._fetch(numbers, None)

    def fetch_changed(self, numbers: Sequence[str], known: Mapping[str, str]) -> FetchResult:
        """Like `fetch`, but an order whose OrderModel is byte for byte the one `known`
        has the digest of is listed in `unchanged` instead of mapped; `digests` has every
        returned order's."""
        return self._fetch(numbers, known)

    def _fetch(self, numbers: Sequence[str], known: Mapping[str, str] | None) -> FetchResult:
        if not numbers:
            return FetchResult()
        result = FetchResult()
        seen: dict[str, str | None] = {}
        for model in self._get_orders(numbers, result):
            try:
                self._map(model, known, result, seen)
            except Exception as e:  # one order's data never stops the others (DESIGN.md §8)
                number = _guess_number(model)
                if number:
                    result.failed[number] = f"OrderModel could not be read: " \
                                            f"{type(e).__name__}: {e}"[:500]
                log.exception("getOrder: an OrderModel could not be mapped")
        returned = ({o.order_number for o in result.orders} | set(result.failed)
                    | set(result.unchanged))
        for number in numbers:
            if number not in returned and number not in result.missing:
                result.failed[number] = "RMS getOrder returned nothing for this order"
        return result

    def _get_orders(self, numbers: Sequence[str], result: FetchResult) -> list[Any]:
        """getOrder for `numbers`; an answer RMS cannot give as JSON (one order's poison:
        text or nesting no decoder takes) is asked again in halves, so only the order that
        causes it is recorded as failed. An outage still raises."""
        try:
            with _translated():
                got = self.client.get_order(numbers)
        except ChannelUnavailable as e:
            if len(numbers) == 1 and isinstance(e.__cause__, RmsMalformedResponseError):
                result.failed[numbers[0]] = f"RMS getOrder answer is not readable: {e}"[:500]
                return []
            if len(numbers) == 1 or not isinstance(e.__cause__, RmsMalformedResponseError):
                raise
            half = len(numbers) // 2
            return (self._get_orders(numbers[:half], result)
                    + self._get_orders(numbers[half:], result))
        result.missing.extend(got.missing)
        return list(got.orders)

    def _map(self, model: Any, known: Mapping[str, str] | None, result: FetchResult,
             seen: dict[str, str | None]) -> None:
        number = _guess_number(model)
        raw = _serialised(model)
        digest = None if raw is None else _blake(raw)
        if number is not None:
            if number in seen:  # the same order twice in one answer: once if the same data
                if seen[number] is None or seen[number] != digest:
                    result.orders = [o for o in result.orders if o.order_number != number]
                    if number in result.unchanged:
                        result.unchanged.remove(number)
                    result.digests.pop(number, None)
                    result.failed[number] = ("RMS getOrder returned this order twice, "
                                             "with different data")
                return
            seen[number] = digest
            if digest is not None:
                result.digests[number] = digest
                if known is not None and known.get(number) == digest:
                    result.unchanged.append(number)
                    return
        try:
            result.orders.append(channel_order_from_rms(model, raw))
        except MappingError as e:
            number = e.order_number or number
            if number:
                result.failed[number] = e.reason
            else:
                log.warning("getOrder: an OrderModel without a usable number: %s", e.reason)

    def confirm(self, numbers: Sequence[str]) -> dict[str, ConfirmOutcome]:
        with _translated():
            messages = self.client.confirm_order(numbers)
        out: dict[str, ConfirmOutcome] = {}
        for number, m in messages.items():
            if m.ok or m.code.endswith(_CONFIRM_DONE):
                out[number] = ConfirmOutcome(True, False, str(m))
                continue
            if m.code.endswith(_CONFIRM_CANCELLED):
                out[number] = ConfirmOutcome(False, False, str(m), cancelled=True)
                continue
            permanent = next((text for code, text in _CONFIRM_PERMANENT.items()
                              if m.code.endswith(code)), None)
            out[number] = ConfirmOutcome(False, permanent is not None,
                                         f"{permanent} ({m.code})" if permanent else str(m))
        return out

    def license_expiry(self) -> date | None:
        """The license key's expiry day (JST) from RMS's license management API; None when
        RMS does not let this key read it (the function is not enabled for the key, which
        RMS answers like a refused key: ES04-01): the configured date is used then; a key
        that is refused altogether shows as the order API's authentication alert. Outages
        raise ChannelUnavailable."""
        try:
            with _translated():
                return self.client.get_license_expiry_date().date()
        except ChannelUnavailable:
            raise
        except ChannelError:
            return None

    def cancel(self, number: str, reason_code: int, inventory_restore: int) -> CancelOutcome:
        """RMS cancelOrder for one order. Transient failures raise ChannelUnavailable."""
        try:
            with _translated():
                try:
                    m = self.client.cancel_order(number, reason_code=reason_code,
                                                 inventory_restore_type=inventory_restore)
                except RmsRequestError as e:
                    return _cancel_refused(e)
        except ChannelError as e:
            if isinstance(e, ChannelUnavailable):
                raise
            return CancelOutcome(False, True, str(e))
        if m.ok or m.code.endswith(_CANCEL_DONE):
            return CancelOutcome(True, False, str(m))
        return _cancel_refused_message(m)

    def update_recipient(self, number: str, basket_id: int,
                         recipient: Mapping[str, str]) -> UpdateOutcome:
        """RMS updateOrderSender for one package's recipient. The package's amounts and
        items are sent as RMS has them now (read with getOrder just before), so only the
        recipient changes. Transient failures raise ChannelUnavailable."""
        try:
            with _translated():
                read = self.client.get_order([number])
                model = next((o for o in read.orders if o.get("orderNumber") == number), None)
                if model is None:
                    return UpdateOutcome(False, True, _UPDATE_REFUSED["_ERROR_101"])
                package = next((p for p in model.get("PackageModelList") or []
                                if isinstance(p, dict) and p.get("basketId") == basket_id),
                               None)
                if package is None:
                    return UpdateOutcome(False, True, f"楽天の注文に送付先 {basket_id} が"
                                         "ありません")
                items = [{"itemDetailId": i.get("itemDetailId"), "price": i.get("price"),
                          "units": i.get("units")}
                         for i in package.get("ItemModelList") or [] if isinstance(i, dict)]
                body = {"basketId": basket_id, "postagePrice": package.get("postagePrice"),
                        "deliveryPrice": package.get("deliveryPrice"),
                        "SenderModel": sender_model(recipient), "ItemModelList": items}
                return _update_outcome(lambda: self.client.update_order_sender(number, [body]))
        except ChannelError as e:
            if isinstance(e, ChannelUnavailable):
                raise
            return UpdateOutcome(False, True, str(e))

    def update_memo(self, number: str, values: Mapping[str, str]) -> UpdateOutcome:
        """RMS updateOrderMemo with only the fields given: memo, deliveryDate, shippingTerm
        (RMS's number: 0 none, 1 午前, 2 午後, 9 other, or h1h2 such as 1416)."""
        fields: dict[str, Any] = {}
        if "memo" in values:
            fields["memo"] = values["memo"]
        if values.get("delivery_date"):
            fields["deliveryDate"] = values["delivery_date"]
        if "shipping_term" in values:
            fields["shippingTerm"] = int(values["shipping_term"] or 0)
        try:
            with _translated():
                return _update_outcome(lambda: self.client.update_order_memo(number, fields))
        except ChannelError as e:
            if isinstance(e, ChannelUnavailable):
                raise
            return UpdateOutcome(False, True, str(e))

    def update_shipping(self, updates: Sequence[ShippingUpdate]) -> dict[str, ReportOutcome]:
        """発送完了報告: updateOrderShippingAsync per 100 orders, then its results polled;
        updateOrderShipping one order at a time where RMS refuses the async request.

        An order without a result (polling gave up, RMS may have applied it) is left out:
        the caller re-reads its rows before trying again, so nothing is sent twice.
        """
        out: dict[str, ReportOutcome] = {}
        pending: dict[str, list[str]] = {}
        sync: list[ShippingUpdate] = []
        for i in range(0, len(updates), MAX_NUMBERS_PER_CALL):
            chunk = updates[i : i + MAX_NUMBERS_PER_CALL]
            body = [(u.order_number, [BasketShipping(b.basket_id, b.shipments)
                                      for b in u.baskets]) for u in chunk]
            try:
                with _translated():
                    try:
                        request_id = self.client.update_order_shipping_async(body)
                    except RmsRequestError:
                        sync.extend(chunk)  # refused as a whole: one order at a time
                        continue
            except ChannelUnavailable as e:
                out.update((u.order_number, ReportOutcome(False, False, str(e),
                                                          in_flight=e.may_have_applied))
                           for u in chunk)
                continue
            pending[request_id] = [u.order_number for u in chunk]
        if pending:
            out.update(self._poll(pending))
        for u in sync:
            out[u.order_number] = self._update_one(u)
        return out

    def _poll(self, pending: dict[str, list[str]]) -> dict[str, ReportOutcome]:
        out: dict[str, ReportOutcome] = {}
        wait = ASYNC_FIRST_POLL
        for _ in range(ASYNC_MAX_POLLS):
            self._clock.sleep(wait)
            for request_id in list(pending):
                try:
                    with _translated():
                        rows = self.client.get_result_update_order_shipping_async(request_id)
                except ChannelUnavailable as e:
                    log.warning("getResultUpdateOrderShippingAsync %s: %s", request_id, e)
                    continue
                if rows is None:
                    continue  # still processing
                numbers = pending.pop(request_id)
                out.update(_row_outcomes(numbers, rows))
            if not pending:
                break
            wait = min(wait * 2, 120.0)
        for numbers in pending.values():  # accepted, no result yet: RMS may apply it later
            out.update((n, ReportOutcome(False, False, "RMSが処理結果を返していません",
                                         in_flight=True)) for n in numbers)
        return out

    def _update_one(self, update: ShippingUpdate) -> ReportOutcome:
        baskets = [BasketShipping(b.basket_id, b.shipments) for b in update.baskets]
        try:
            with _translated():
                try:
                    rows = self.client.update_order_shipping(update.order_number, baskets)
                except RmsRequestError as e:
                    return ReportOutcome(False, True, "; ".join(str(m) for m in e.messages)
                                         or str(e))
        except ChannelUnavailable as e:
            return ReportOutcome(False, False, str(e), in_flight=e.may_have_applied)
        return _row_outcomes([update.order_number], rows).get(
            update.order_number, ReportOutcome(True, False))

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _cancel_refused(e: RmsRequestError) -> CancelOutcome:
    for m in e.messages:
        if m.code.endswith(_CANCEL_DONE):
            return CancelOutcome(True, False, str(m))
    if e.messages:
        return _cancel_refused_message(e.messages[0])
    return CancelOutcome(False, True, str(e))


def _cancel_refused_message(m: RmsMessage) -> CancelOutcome:
    why = next((text for code, text in _CANCEL_REFUSED.items() if m.code.endswith(code)),
               m.message or m.code)
    return CancelOutcome(False, True, f"{why}; {m.code}")


def _update_outcome(call: Callable[[], RmsMessage]) -> UpdateOutcome:
    """An edit's write-back as its outcome: taken, or refused with RMS's reason."""
    try:
        m = call()
    except RmsRequestError as e:
        return _update_refused(e.messages[0] if e.messages else None, str(e))
    if m.ok:
        return UpdateOutcome(True, False, str(m))
    return _update_refused(m, str(m))


def _update_refused(m: RmsMessage | None, fallback: str) -> UpdateOutcome:
    if m is None:
        return UpdateOutcome(False, True, fallback)
    why = next((text for code, text in _UPDATE_REFUSED.items() if m.code.endswith(code)),
               m.message or m.code)
    return UpdateOutcome(False, True, f"{why}; {m.code}")


def _row_outcomes(numbers: Sequence[str], rows: Sequence[ShippingRowResult]
                  ) -> dict[str, ReportOutcome]:
    """Per order: ok when every row was accepted, else RMS's errors (permanent: a format
    or state error does not go away by sending the same rows again)."""
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for r in rows:
        number = r.order_number or (numbers[0] if len(numbers) == 1 else "")
        seen.add(number)
        if not r.ok:
            errors.setdefault(number, []).append(str(r.message))
    out: dict[str, ReportOutcome] = {}
    for n in numbers:
        if n in errors:
            out[n] = ReportOutcome(False, True, "; ".join(errors[n])[:500])
        elif n in seen:
            out[n] = ReportOutcome(True, False)
    return out


def _guess_number(model: object) -> str | None:
    """The order number of an OrderModel, when it is one unyo can record a failure under
    (RMS's shape, at most 64 characters)."""
    if isinstance(model, dict):
        n = model.get("orderNumber")
        return n if isinstance(n, str) and ORDER_NUMBER.fullmatch(n) else None
    return None


def _serialised(model: object) -> bytes | None:
    try:
        return orjson.dumps(model)
    except (TypeError, orjson.JSONEncodeError):
        return None  # not serialisable as it is: mapped (and repaired) every time


def _blake(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()

