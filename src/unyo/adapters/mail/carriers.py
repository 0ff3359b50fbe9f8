"""Carrier names and tracking links for the shipping mail (発送連絡メール).

Names are RMS's deliveryCompany codes (reference/rakuten-rms.md). The tracking
links are the public tracking pages the carriers publish *(unconfirmed: not in
reference/rakuten-rms.md; a shop whose carrier changes its page overrides the
template)*. A carrier without a link shows the tracking number only.
"""

from __future__ import annotations

from urllib.parse import quote

from unyo.domain import carriers

CARRIER_NAMES = carriers.CARRIER_NAMES  # RMS deliveryCompany code → name

_YAMATO = "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number00=1&number01={n}"
_JAPAN_POST = ("https://trackings.post.japanpost.jp/services/srv/search/direct"
               "?reqCodeNo1={n}&searchKind=S002&locale=ja")
TRACKING_URLS: dict[str, str] = {
    "1001": _YAMATO,
    "1030": _YAMATO,
    "1002": "https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do?okurijoNo={n}",
    "1003": _JAPAN_POST,
    "1029": _JAPAN_POST,
    "1017": _JAPAN_POST,
    "1004": "https://track.seino.co.jp/cgi-bin/gnpquery.pgm?GNPNO1={n}",
    "1006": "https://corp.fukutsu.co.jp/situation/tracking_no_hunt/{n}",
}


def carrier_name(code: str) -> str:
    return CARRIER_NAMES.get(code, code or "その他")


def tracking_url(code: str, number: str) -> str:
    """The carrier's tracking page for `number`, or "" when there is none."""
    pattern = TRACKING_URLS.get(code)
    digits = number.replace("-", "").strip()
    if not pattern or not digits:
        return ""
    return pattern.format(n=quote(digits, safe=""))
