"""Help-center pages: `/help/{locale}` (search box, categories, popular articles), categories, articles (with
live data, translations, related articles and a "was this helpful?" vote), search results, `/contact`; and
the editors' pages under `/help/editor` (list, write with a preview, publish, revisions, searches that found
nothing)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from paydesk.core.errors import DomainError, NotFound
from paydesk.helpcenter.domain import CATEGORIES, LOCALES, ArticleDraft, embeds_used, to_html
from paydesk.helpcenter.live import channels, embeds
from paydesk.identity.service import Principal
from paydesk.web.auth import container
from paydesk.web.pages import form_token_ok, page_principal, page_principal_with, redirect, render, request_locale

router = APIRouter(include_in_schema=False)


def _other(locale: str) -> str:
    return "en" if locale == "zh-CN" else "zh-CN"


def _page(request: Request, template: str, locale: str, context: dict[str, Any], status: int = 200,
          switch_url: str | None = None) -> Response:
    return render(request, template, {"help_locale": locale, "categories": CATEGORIES,
                                      "switch_url": switch_url or request.url.path.replace(
                                          f"/help/{locale}", f"/help/{_other(locale)}", 1), **context},
                  status, locale=locale)


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {}, 404)


# --- editors -------------------------------------------------------------------------------------------------

def _editor(request: Request) -> Principal | None:
    return page_principal_with(request, "editor")


@router.get("/help/editor", response_class=HTMLResponse)
def editor_list(request: Request) -> Response:
    if _editor(request) is None:
        return redirect("/login?next=/help/editor") if page_principal(request) is None else _missing(request)
    app = container(request)
    return render(request, "help_editor_list.html", {"items": app.help.editor_list(), "locales": LOCALES,
                                                     "misses": app.help.misses(limit=20), "categories": CATEGORIES})


@router.get("/help/editor/new", response_class=HTMLResponse)
def editor_new(request: Request) -> Response:
    key, locale = request.query_params.get("key", ""), request.query_params.get("locale", "")
    if _editor(request) is None or locale not in LOCALES or not key:
        return _missing(request)
    return redirect(f"/help/editor/{locale}/{quote(key)}")


@router.get("/help/editor/{locale}/{key}", response_class=HTMLResponse)
def editor_page(request: Request, locale: str, key: str) -> Response:
    if _editor(request) is None:
        return _missing(request)
    app = container(request)
    view = app.help.editor_view_of(locale, key)
    values = ({"title": view["draft"]["title"], "category": view["draft"]["category"],
               "body": view["draft"]["body"], "keywords": view["draft"]["keywords"],
               "related": ", ".join(view["draft"]["related"])} if view else
              {"title": "", "category": "contact", "body": "", "keywords": "", "related": ""})
    return _editor_form(request, locale, key, values, view)


def _editor_form(request: Request, locale: str, key: str, values: dict[str, str], view: dict[str, Any] | None,
                 errors: dict[str, str] | None = None, preview: str = "", status: int = 200) -> Response:
    return render(request, "help_editor.html", {"locale_of": locale, "key": key, "values": values, "view": view,
                                                "errors": errors or {}, "preview": preview,
                                                "categories": CATEGORIES, "saved": request.query_params.get("saved")},
                  status)


@router.post("/help/editor/{locale}/{key}", response_class=HTMLResponse)
async def editor_save(request: Request, locale: str, key: str) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_save, request, locale, key, form)


def _save(request: Request, locale: str, key: str, form: dict[str, str]) -> Response:
    who = _editor(request)
    if who is None:
        return _missing(request)
    app = container(request)
    values = {k: form.get(k, "") for k in ("title", "category", "body", "keywords", "related")}
    view = app.help.editor_view_of(locale, key)
    if not form_token_ok(request, form.get("csrf_token")):
        return _editor_form(request, locale, key, values, view, {"body": "csrf"}, status=403)
    draft = ArticleDraft(key=key, locale=locale, title=values["title"], category=values["category"],
                         body=values["body"], keywords=values["keywords"],
                         related=[r.strip() for r in values["related"].split(",") if r.strip()])
    try:
        draft.checked()
        if form.get("action") == "preview":
            return _editor_form(request, locale, key, values, view,
                                preview=to_html(draft.body, embeds(app, locale, embeds_used(draft.body))))
        app.help.save(draft, who.user.display_name, publish=form.get("action") == "publish")
    except DomainError as exc:
        return _editor_form(request, locale, key, values, view, {"body": exc.detail}, status=422)
    return redirect(f"/help/editor/{locale}/{key}?saved={form.get('action', 'draft')}")


# --- readers (after the editors' routes: /help/{locale} would match /help/editor) ---------------------

@router.get("/help", response_class=HTMLResponse)
def help_root(request: Request) -> Response:
    return redirect(f"/help/{request_locale(request)}")


@router.get("/contact", response_class=HTMLResponse)
def contact_root(request: Request) -> Response:
    return redirect(f"/help/{request_locale(request)}/contact")


@router.get("/help/{locale}", response_class=HTMLResponse)
def home(request: Request, locale: str) -> Response:
    if locale not in LOCALES:
        return _missing(request)
    return _page(request, "help_home.html", locale, container(request).help.home(locale))


@router.get("/help/{locale}/categories/{category}", response_class=HTMLResponse)
def category(request: Request, locale: str, category: str) -> Response:
    if locale not in LOCALES or category not in CATEGORIES:
        return _missing(request)
    return _page(request, "help_category.html", locale, {
        "category": category, "items": container(request).help.category(locale, category)})


@router.get("/help/{locale}/search", response_class=HTMLResponse)
def search(request: Request, locale: str) -> Response:
    if locale not in LOCALES:
        return _missing(request)
    q = request.query_params.get("q", "")[:200]
    items = container(request).help.search(q, locale, 20, log_miss=True) if q.strip() else []
    return _page(request, "help_search.html", locale, {"q": q, "items": items},
                 switch_url=f"/help/{_other(locale)}/search?q={quote(q)}")


@router.get("/help/{locale}/contact", response_class=HTMLResponse)
def contact(request: Request, locale: str) -> Response:
    if locale not in LOCALES:
        return _missing(request)
    return _page(request, "help_contact.html", locale, {"channels": channels(container(request), locale)})


@router.get("/help/{locale}/articles/{key}", response_class=HTMLResponse)
def article(request: Request, locale: str, key: str) -> Response:
    if locale not in LOCALES:
        return _missing(request)
    app = container(request)
    try:
        found = app.help.article(locale, key)
    except NotFound:
        return _missing(request)
    translation = next((t["url"] for t in found["translations"]), f"/help/{_other(locale)}")
    return _page(request, "help_article.html", locale, {
        "article": found, "html": to_html(found["body"], embeds(app, locale, embeds_used(found["body"]))),
        "voted": request.query_params.get("voted", "")}, switch_url=translation)


@router.post("/help/{locale}/articles/{key}/vote", response_class=HTMLResponse)
async def vote(request: Request, locale: str, key: str) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not form_token_ok(request, form.get("csrf_token")) or form.get("helpful") not in ("yes", "no"):
        return render(request, "not_found.html", {}, 400)
    try:
        await run_in_threadpool(container(request).help.vote, locale, key, form["helpful"] == "yes",
                                form.get("comment", "")[:1000])
    except DomainError:
        return _missing(request)
    return redirect(f"/help/{locale}/articles/{key}?voted=1#vote")
