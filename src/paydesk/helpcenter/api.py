"""Help-center JSON: search (open to any site: the chat widget lives on other sites), articles, votes, and the
editors' API (role `editor` or `admin`): drafts, publishing, the searches that found nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paydesk.core.db import INT32_MAX
from paydesk.helpcenter.domain import ArticleDraft, embeds_used, to_html
from paydesk.helpcenter.live import embeds
from paydesk.web.auth import AppContainer, EditorPrincipal

router = APIRouter(tags=["help center"])
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}


class VoteIn(BaseModel):
    helpful: bool
    comment: str = Field("", max_length=1000)


class ArticleIn(BaseModel):
    title: str = Field(max_length=200)
    category: str = Field(max_length=20)
    body: str = Field(max_length=50_000)
    keywords: str = Field("", max_length=500)
    related: list[str] = Field(default_factory=list, max_length=10)
    publish: bool = False


@router.get("/api/v1/help/search")
def search(app: AppContainer, q: str = Query("", max_length=200), locale: str = Query("en", max_length=8),
           limit: int = Query(5, ge=1, le=50)) -> JSONResponse:
    """Published articles that answer `q` in `locale` (en, zh-CN), best first: `{items: [{key, title, url,
    snippet (HTML, matches in <mark>), score}]}`. A search that finds nothing is kept for editors."""
    return JSONResponse({"query": q, "items": app.help.search(q, locale, limit)}, headers=ANY_ORIGIN)


@router.get("/api/v1/help/articles/{locale}/{key}")
def article(locale: str, key: str, app: AppContainer) -> dict[str, Any]:
    found = app.help.article(locale, key)
    return {**found, "html": to_html(found["body"], embeds(app, locale, embeds_used(found["body"])))}


@router.post("/api/v1/help/articles/{locale}/{key}/votes", status_code=204)
def vote(locale: str, key: str, body: VoteIn, app: AppContainer) -> None:
    app.help.vote(locale, key, body.helpful, body.comment)


@router.get("/api/v1/help/admin/articles")
def editor_list(who: EditorPrincipal, app: AppContainer) -> dict[str, Any]:
    del who
    return {"items": app.help.editor_list()}


@router.put("/api/v1/help/admin/articles/{locale}/{key}")
def save(locale: str, key: str, body: ArticleIn, who: EditorPrincipal, app: AppContainer) -> dict[str, Any]:
    """A new revision (the article is created on first save); `publish: true` makes it the public one."""
    draft = ArticleDraft(key=key, locale=locale, title=body.title, category=body.category, body=body.body,
                         keywords=body.keywords, related=body.related)
    return app.help.save(draft, who.user.display_name, publish=body.publish)


@router.post("/api/v1/help/admin/articles/{article_id}/publish")
def publish(article_id: UUID, who: EditorPrincipal, app: AppContainer,
            revision: int | None = Query(None, ge=1, le=INT32_MAX)) -> dict[str, Any]:
    del who
    return app.help.publish(article_id, revision)


@router.post("/api/v1/help/admin/articles/{article_id}/unpublish", status_code=204)
def unpublish(article_id: UUID, who: EditorPrincipal, app: AppContainer) -> None:
    del who
    app.help.unpublish(article_id)


@router.get("/api/v1/help/admin/misses")
def misses(who: EditorPrincipal, app: AppContainer) -> dict[str, Any]:
    del who
    return {"items": app.help.misses()}

