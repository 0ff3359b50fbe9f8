"""Admin pages: users (add, disable) and the shop's settings (the RMS license key's issue
day, for the expiry alert). Operators get 403."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from unyo.app.dashboard import LICENSE_ISSUED
from unyo.app.users import Role, UserError
from unyo.web.app import lang_of, render, require_admin, session_of, web_of
from unyo.web.i18n import translator

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


def _users_page(request: Request, status: int = 200, error: str = "", added: str = "",
                disabled: str = "", form: dict[str, str] | None = None) -> Response:
    web = web_of(request)
    return render(request, "users.j2", status=status, users=web.users.list(), roles=list(Role),
                  error=error, added=added, disabled=disabled, form=form or {})


@router.get("/users")
def users(request: Request) -> Response:
    p = request.query_params
    return _users_page(request, added=p.get("added", "")[:64],
                       disabled=p.get("disabled", "")[:64])


@router.post("/users")
def add_user(request: Request, name: Annotated[str, Form(max_length=64)],
             role: Annotated[str, Form(max_length=20)],
             password: Annotated[str, Form(max_length=1024)]) -> Response:
    web = web_of(request)
    try:
        web.users.add(name.strip(), role, password, web.auth_clock.now())
    except UserError as e:
        return _users_page(request, 400, e.text(lang_of(request)),
                           form={"name": name, "role": role})
    return RedirectResponse(f"/admin/users?added={name.strip()}", status_code=303)


@router.post("/users/{name}/disable")
def disable_user(request: Request, name: str) -> Response:
    web = web_of(request)
    if name == session_of(request).user:
        return _users_page(request, 400, translator(lang_of(request))("cannot_disable_self"))
    try:
        web.users.disable(name)
    except UserError as e:
        return _users_page(request, 404, e.text(lang_of(request)))
    return RedirectResponse(f"/admin/users?disabled={name}", status_code=303)


@router.get("/settings")
def settings(request: Request) -> Response:
    web = web_of(request)
    issued = web.dashboard.accounts.setting(web.shop, LICENSE_ISSUED) or ""
    return render(request, "settings.j2", issued=issued, error="",
                  saved=request.query_params.get("saved") == "1")


@router.post("/settings")
def save_settings(request: Request,
                  license_issued_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    web = web_of(request)
    text = license_issued_on.strip()
    if text:
        try:
            date.fromisoformat(text)
        except ValueError:
            return render(request, "settings.j2", status=400, issued=text, error="err_bad_date",
                          saved=False)
    web.dashboard.accounts.set_setting(web.shop, LICENSE_ISSUED, text or None,
                                       by=session_of(request).user, now=web.auth_clock.now())
    return RedirectResponse("/admin/settings?saved=1", status_code=303)
