"""The staff's chat webhook (e.g. a Slack incoming webhook) over httpx.

A post is `POST <url>` with the JSON `{"text": "..."}` — Slack's incoming-webhook
format, which Mattermost, Rocket.Chat, Discord's `/slack` endpoint and many others
accept. The URL is a secret (it is the credential): it comes from the environment
and never appears in a repr, a log line or an error; errors name only the host.
Imports httpx and the app's ports only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from unyo.app.ports import WebhookRejected, WebhookUnavailable

__all__ = ["HttpWebhook"]


class HttpWebhook:
    """`StaffWebhook` over httpx; takes an injected `httpx.Client` (tests, proxies)."""

    def __init__(self, url: str, *, http: httpx.Client | None = None,
                 timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the webhook URL is not an http(s) URL")
        self._url = url
        self.host = parts.hostname
        self._http = http or httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"HttpWebhook(host={self.host!r})"

    def post(self, text: str) -> None:
        try:
            response = self._http.post(self._url, json={"text": text})
        except httpx.HTTPError as e:  # the URL is never shown: it is the secret
            raise WebhookUnavailable(f"webhook {self.host}: no answer "
                                     f"({type(e).__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            raise WebhookUnavailable(f"webhook {self.host}: HTTP {status}")
        raise WebhookRejected(f"webhook {self.host}: HTTP {status} (is the URL in the "
                              "environment still valid?)")

    def close(self) -> None:
        self._http.close()
