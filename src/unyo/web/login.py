"""Login and logout. The only page open without a session is the login form."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from unyo.app.users import SESSION_MAX
from unyo.web.app import render, same, web_of

router = APIRouter()
log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never //host or a scheme) may follow a login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_form(request: Request, status: int = 200, error: str = "",
                user: str = "") -> Response:
    web = web_of(request)
    token = secrets.token_urlsafe(24)
    response = render(request, "login.j2", status=status, error=error, user=user,
                      login_csrf=token, next=_safe_next(request.query_params.get("next")))
    response.set_cookie(web.login_cookie, token, max_age=3600, httponly=True,
                        samesite="strict", secure=web.secure_cookies, path="/")
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_form(request)


@router.post("/login")
def login(request: Request, user: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=1024)] = "",
          csrf_token: Annotated[str, Form(max_length=100)] = "",
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    web = web_of(request)
    if not same(csrf_token, request.cookies.get(web.login_cookie)):
        return _login_form(request, 403, "login_expired", user)
    # The peer, or the client a trusted proxy names (security.ForwardedFor)
    address = request.client.host if request.client else "?"
    wait = web.throttle.retry_after(address, user)
    if wait:
        log.warning("login for %r from %s refused for %d s: too many failed logins",
                    user[:64], address, wait)
        response = _login_form(request, 429, "login_limited", user)
        response.headers["Retry-After"] = str(wait)
        return response
    found = web.users.check_password(user, password)
    if found is None:
        web.throttle.failed(address, user)
        return _login_form(request, 401, "login_failed", user)
    web.throttle.succeeded(address, user)
    token, _ = web.users.start_session(found, web.auth_clock.now())
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(web.cookie_name, token, max_age=int(SESSION_MAX.total_seconds()),
                        httponly=True, samesite="strict", secure=web.secure_cookies, path="/")
    response.delete_cookie(web.login_cookie, path="/", secure=web.secure_cookies,
                           httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    web = web_of(request)
    web.users.end_session(request.cookies.get(web.cookie_name, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(web.cookie_name, path="/", secure=web.secure_cookies,
                           httponly=True, samesite="strict")
    return response
