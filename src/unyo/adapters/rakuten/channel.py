"""`RakutenChannel`: the app's `OrderChannel` port on top of `RmsClient` + mapping.

Translates RMS errors into the port's `ChannelAuthError` / `ChannelUnavailable`
and RMS per-order messages into domain outcomes. Search covers the statuses an
importable order can have (100 注文確認待ち to 400 変更確定待ち).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import httpx

from unyo.adapters.rakuten.client import RmsClient
from unyo.adapters.rakuten.errors import (
    MappingError,
    RmsAuthError,
    RmsError,
    RmsMalformedResponseError,
    RmsUnavailableError,
)
from unyo.adapters.rakuten.mapping import channel_order_from_rms
from unyo.app.ports import (
    ChannelAuthError,
    ChannelError,
    ChannelUnavailable,
    ConfirmOutcome,
    FetchResult,
)
from unyo.clock import Clock
from unyo.flow import RmsSettings

SEARCH_PROGRESS = (100, 200, 300, 400)

# confirmOrder answers (reference/rakuten-rms.md): ERROR_102 already cancelled (the sync
# will cancel it), ERROR_103 not in 100 (already confirmed), ERROR_105 postage not set
# (a person must fix postage in RMS first).
_CONFIRM_DONE = ("_ERROR_103",)
_CONFIRM_CANCELLED = ("_ERROR_102",)
_CONFIRM_PERMANENT = {
    "_ERROR_105": "送料が未確定のため注文確認できません（RMSで送料を確定してください）",
}


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except RmsAuthError as e:
        raise ChannelAuthError(str(e)) from e
    except (RmsUnavailableError, RmsMalformedResponseError) as e:
        raise ChannelUnavailable(str(e)) from e
    except RmsError as e:
        raise ChannelError(str(e)) from e


class RakutenChannel:
    """Rakuten RMS as an `OrderChannel`."""

    def __init__(self, client: RmsClient, http: httpx.Client | None = None) -> None:
        self.client = client
        self._http = http

    @classmethod
    def from_settings(cls, settings: RmsSettings, *, service_secret: str, license_key: str,
                      clock: Clock, http: httpx.Client | None = None) -> RakutenChannel:
        http = http or httpx.Client(timeout=settings.timeout)
        return cls(RmsClient(http, base_url=settings.base_url, service_secret=service_secret,
                             license_key=license_key, clock=clock,
                             min_interval=settings.min_interval,
                             max_retries=settings.max_retries), http)

    @property
    def calls(self) -> Counter[str]:
        return self.client.calls

    def search(self, start: datetime, end: datetime) -> list[str]:
        with _translated():
            return self.client.search_order(start=start, end=end, date_type=1,
                                            progress=list(SEARCH_PROGRESS))

    def fetch(self, numbers: Sequence[str]) -> FetchResult:
        if not numbers:
            return FetchResult()
        with _translated():
            got = self.client.get_order(numbers)
        result = FetchResult(missing=list(got.missing))
        for model in got.orders:
            try:
                result.orders.append(channel_order_from_rms(model))
            except MappingError as e:
                number = e.order_number or _guess_number(model)
                if number:
                    result.failed[number] = e.reason
        returned = {o.order_number for o in result.orders} | set(result.failed)
        for number in numbers:
            if number not in returned and number not in result.missing:
                result.failed[number] = "RMS getOrder returned nothing for this order"
        return result

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

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _guess_number(model: object) -> str | None:
    if isinstance(model, dict):
        n = model.get("orderNumber")
        return n if isinstance(n, str) and n else None
    return None

