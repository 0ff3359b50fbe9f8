"""The dashboard (issue 7): server-rendered pages on FastAPI + Jinja2, htmx for the live
parts, Japanese first. `create_app()` builds it on a store, the shop's settings and a clock.

Reads through `unyo.app` and the store's dashboard queries; acts only through
`unyo.app.manual`, as the CLI does. Must not import the CLI or the sandbox (the SMTP
sink is handed in).
"""

from unyo.web.app import create_app

__all__ = ["create_app"]
