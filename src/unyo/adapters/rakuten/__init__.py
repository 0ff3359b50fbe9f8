"""Rakuten RMS order API (RakutenPayOrderAPI): the HTTP client and the RMS ⇄ domain mapping.

`RmsClient` speaks the API (auth, batching, pacing, retries, typed errors);
`channel_order_from_rms` turns one getOrder OrderModel into a `ChannelOrder`.
RMS keys never leave this package. Must not import `unyo.app`, the sandbox or
other adapters; facts from reference/rakuten-rms.md.
"""

from unyo.adapters.rakuten.client import (
    PRODUCTION_BASE_URL,
    BasketShipping,
    GetOrderResult,
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
    RmsThrottledError,
    RmsUnavailableError,
)
from unyo.adapters.rakuten.mapping import (
    CARRIERS,
    channel_order_from_rms,
    format_rms_datetime,
    parse_rms_datetime,
)

__all__ = [
    "CARRIERS",
    "PRODUCTION_BASE_URL",
    "BasketShipping",
    "GetOrderResult",
    "MappingError",
    "RmsAuthError",
    "RmsClient",
    "RmsError",
    "RmsMalformedResponseError",
    "RmsMessage",
    "RmsRequestError",
    "RmsThrottledError",
    "RmsUnavailableError",
    "ShippingRowResult",
    "channel_order_from_rms",
    "format_rms_datetime",
    "parse_rms_datetime",
]
