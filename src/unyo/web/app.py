"""The dashboard's application: `create_app()` wires the store, the shop's settings, the
clock and the sandbox handles into a FastAPI app of server-rendered pages.

Every route needs a logged-in session except /login and /static: one app-wide
dependency (`_guard`) looks the session up and, on every POST, checks its CSRF token,
so a route added later is protected without doing anything. Admin pages add
`require_admin`. Buyer text is hostile: the templates autoescape everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup

from unyo import wording
from unyo.adapters.db.accounts import Accounts
from unyo.adapters.db.store import Store
from unyo.app.dashboard import Dashboard
from unyo.app.users import Session, Users
from unyo.clock import JST, Clock, SystemClock
from unyo.domain import CANCEL_REASONS, NOT_FIXED
from unyo.domain.stages import Action, allowed
from unyo.flow import Config
from unyo.web.i18n import DEFAULT_LANG, LANGS, translator
from unyo.web.security import ForwardedFor, LoginThrottle, SecurityHeaders, networks, same

HERE = Path(__file__).parent
PUBLIC_PATHS = frozenset({"/login"})
LANG_COOKIE = "unyo_lang"


class LoginRequired(Exception):
    """No live session: the page asks for a login."""


class Refused(Exception):
    """The request is refused (status and catalogue key say why)."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status, self.key = status, key


@dataclass
class Web:
    """What the routes share: the engine's pieces and the dashboard's own state."""

    store: Store
    config: Config
    clock: Clock  # the business clock (a simulated one in the demo)
    users: Users
    dashboard: Dashboard
    templates: jinja2.Environment
    secure_cookies: bool
    auth_clock: Clock = field(default_factory=SystemClock)  # sessions run on real time
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    smtp_sink: Any = None  # the sandbox SMTP sink (unyo.sandbox.smtp_sink.SmtpSink), if any

    @property
    def shop(self) -> str:
        return self.config.shop_id

    @property
    def cookie_name(self) -> str:
        # __Host- cookies must be Secure, path=/ and have no Domain: browsers enforce it.
        return "__Host-unyo_session" if self.secure_cookies else "unyo_session"

    @property
    def login_cookie(self) -> str:
        return "__Host-unyo_login" if self.secure_cookies else "unyo_login"


def web_of(request: Request) -> Web:
    return request.app.state.web


def session_of(request: Request) -> Session:
    return request.state.session


def _current_session(request: Request) -> Session | None:
    """The session of the request's cookie (a sync dependency: it reads the database)."""
    if request.url.path in PUBLIC_PATHS:
        return None
    web = web_of(request)
    token = request.cookies.get(web.cookie_name, "")
    return web.users.session(token, web.auth_clock.now()) if token else None


async def _guard(request: Request,
                 session: Annotated[Session | None, Depends(_current_session)]) -> None:
    if request.url.path in PUBLIC_PATHS:
        return
    if session is None:
        raise LoginRequired()
    request.state.session = session
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get("x-csrf-token")
        if not sent:
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        if not same(sent, session.csrf_token):
            raise Refused(403, "csrf_failed")


def require_admin(request: Request) -> None:
    session: Session | None = getattr(request.state, "session", None)
    if session is None or not session.is_admin:
        raise Refused(403, "forbidden")


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGS else DEFAULT_LANG


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page from its template, with the frame's values (session, words, CSRF token)."""
    web = web_of(request)
    lang = lang_of(request)
    session: Session | None = getattr(request.state, "session", None)
    values.setdefault("now", web.clock.now())  # business time (the sandbox's clock)
    body = web.templates.get_template(template).render(
        request=request, session=session, t=translator(lang), lang=lang, shop=web.config,
        csrf=session.csrf_token if session else "", path=request.url.path,
        sandbox_mail=web.smtp_sink is not None, shadow_mode=web.dashboard.shadow, **values)
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True,
                            samesite="strict", secure=web.secure_cookies)
    return response


def _jst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(JST).strftime(fmt)


def _yen(value: int | None) -> str:
    if value is None:
        return ""
    if value == NOT_FIXED:
        return "未確定"
    return f"{value:,}円"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(jst=_jst, yen=_yen, pct=_pct, urlq=lambda s: quote(str(s), safe=""))
    env.globals["Markup"] = Markup
    env.globals.update(allowed=allowed, Action=Action)  # the stage table decides the buttons
    env.globals["cancel_reasons"] = CANCEL_REASONS  # Rakuten's cancel reasons (cancelOrder)
    # what the order's log, actors and effects say, in words (`unyo.wording`)
    env.globals.update(event_text=wording.event_text, actor_text=wording.actor_text,
                       rms_status_name=wording.rms_status_name,
                       effect_name=wording.effect_name, effect_status=wording.effect_status,
                       mail_name=wording.mail_name, payment_wait=wording.payment_wait,
                       payment_method_name=wording.payment_method_name)
    return env


def api_routes(routes: Any) -> list[APIRoute]:
    """Every route of the app, through included routers (to check each needs a login)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):  # FastAPI's included router
            out.extend(api_routes(route.original_router.routes))
        elif hasattr(route, "routes") and not hasattr(route, "app"):
            out.extend(api_routes(route.routes))
    return out


def create_app(store: Store, config: Config, clock: Clock | None = None, *,
               smtp_sink: Any = None, secure_cookies: bool = True,
               auth_clock: Clock | None = None) -> FastAPI:
    """The dashboard for one shop.

    `clock` is the business clock (what "today" and a manual action's time are);
    sessions and login throttling run on `auth_clock` (real time by default), so a
    simulated day does not expire sessions. `secure_cookies=False` is for plain http on
    loopback only (tests, the demo, `unyo serve --insecure-cookie`).
    """
    from unyo.web import actions, admin, login, pages, printing

    clock = clock or SystemClock()
    web = Web(store=store, config=config, clock=clock, users=Users(Accounts(store.engine)),
              dashboard=Dashboard(store, config, clock), templates=_templates(),
              secure_cookies=secure_cookies, auth_clock=auth_clock or SystemClock(),
              smtp_sink=smtp_sink)
    app = FastAPI(title="unyo", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(_guard)])
    app.state.web = web
    app.add_middleware(SecurityHeaders, hsts=secure_cookies)
    app.add_middleware(ForwardedFor, trusted=networks(config.web.trusted_proxies))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (login, pages, actions, admin, printing):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "hx-request" not in request.headers:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return Response("login required", status_code=401, headers={"HX-Redirect": "/login"})

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return render(request, "error.j2", status=exc.status, message_key=exc.key)

    return app
