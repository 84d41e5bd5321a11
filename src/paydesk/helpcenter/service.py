"""Help-center use cases: starter content, drafts and publishing with revisions, reading (with view counts),
votes, search (logging what found nothing) and the editors' lists."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update

from paydesk.core.clock import Clock
from paydesk.core.db import Database, retry_on_conflict
from paydesk.core.errors import InvalidRequest, NotFound
from paydesk.core.ids import uuid7
from paydesk.helpcenter import store
from paydesk.helpcenter.domain import CATEGORIES, LOCALES, ArticleDraft, parse_file, plain
from paydesk.helpcenter.search import SearchIndex, postings, snippet

CONTENT = Path(__file__).parent / "content"


def printable(text: str) -> str:
    """Without control characters (a NUL can't even be stored in PostgreSQL text); line breaks kept."""
    return "".join(c for c in text if c.isprintable() or c in "\n\t")


def article_url(locale: str, key: str) -> str:
    return f"/help/{locale}/articles/{key}"


class HelpService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self.index = SearchIndex()

    # --- writing --------------------------------------------------------------------------------------------

    def import_starter(self, directory: Path = CONTENT, author: str = "Paydesk") -> int:
        """Publish the starter articles that aren't there yet (an editor's later changes are kept)."""
        drafts = [parse_file(path.stem, locale, path.read_text(encoding="utf-8"))
                  for locale in LOCALES for path in sorted((directory / locale).glob("*.md"))]
        return self.publish_many(drafts, author, only_new=True)

    def publish_many(self, drafts: list[ArticleDraft], author: str, *, only_new: bool = False) -> int:
        """Many articles published in one transaction (imports; `only_new`: skip those already there)."""
        added = 0
        with self.db.uow() as uow:
            s = uow.session
            have = {(r.locale, r.key) for r in s.execute(select(store.ArticleRow.locale, store.ArticleRow.key))}
            for draft in drafts:
                if only_new and (draft.locale, draft.key) in have:
                    continue
                fresh = (draft.locale, draft.key) not in have
                row, number = self._save_in(s, draft.checked(), author, known_new=fresh)
                self._publish_in(s, row, number, fresh=fresh)
                have.add((draft.locale, draft.key))
                added += 1
            uow.commit()
        self.index.forget()
        return added

    def save(self, draft: ArticleDraft, author: str, *, publish: bool = False) -> dict[str, Any]:
        """A new revision of the article (created on first save); published at once if asked."""
        draft.checked()

        def attempt() -> UUID:
            with self.db.uow() as uow:
                row, number = self._save_in(uow.session, draft, author)
                if publish:
                    self._publish_in(uow.session, row, number)
                uow.commit()
                return row.id

        saved = retry_on_conflict(attempt)  # two editors saving at once: the second takes the next number
        self.index.forget()
        return self.editor_view(saved)

    def publish(self, article_id: UUID, revision: int | None = None) -> dict[str, Any]:
        with self.db.uow() as uow:
            row = uow.session.get(store.ArticleRow, article_id)
            if row is None:
                raise NotFound("no such article")
            self._publish_in(uow.session, row, revision or self._latest(uow.session, row.id))
            uow.commit()
        self.index.forget()
        return self.editor_view(article_id)

    def unpublish(self, article_id: UUID) -> None:
        with self.db.uow() as uow:
            row = uow.session.get(store.ArticleRow, article_id)
            if row is None:
                raise NotFound("no such article")
            row.published = False
            uow.session.execute(update(store.RevisionRow).where(store.RevisionRow.article_id == row.id)
                                .values(published=False))
            store.replace_postings(uow.session, row, {})
            uow.commit()
        self.index.forget()

    def _find(self, s: Any, locale: str, key: str, *, for_update: bool = False) -> store.ArticleRow | None:
        query = select(store.ArticleRow).where(store.ArticleRow.locale == locale, store.ArticleRow.key == key)
        return s.scalars(query.with_for_update() if for_update else query).first()  # type: ignore[no-any-return]

    @staticmethod
    def _latest(s: Any, article_id: UUID) -> int:
        return int(s.scalar(select(func.max(store.RevisionRow.number)).where(
            store.RevisionRow.article_id == article_id)) or 0)

    def _save_in(self, s: Any, draft: ArticleDraft, author: str, *, known_new: bool = False
                 ) -> tuple[store.ArticleRow, int]:
        """A new revision (and the article, on first save); returns both and the revision's number."""
        now = self.clock.now()
        row = None if known_new else self._find(s, draft.locale, draft.key, for_update=True)  # editors queue
        if row is None:
            row = store.ArticleRow(id=uuid7(), key=draft.key, locale=draft.locale, category=draft.category,
                                   title=draft.title, body=draft.body, keywords=draft.keywords, related=draft.related,
                                   published=False, revision=0, length=0, views=0, helpful=0, unhelpful=0,
                                   created_at=now, updated_at=now)
            s.add(row)
            s.flush()
        number = 1 if known_new else self._latest(s, row.id) + 1
        s.add(store.RevisionRow(id=uuid7(), article_id=row.id, number=number, title=draft.title, body=draft.body,
                                keywords=draft.keywords, category=draft.category, related=list(draft.related),
                                author=author[:100], published=False, created_at=now))
        if not row.published:  # an unpublished article shows its newest draft to editors; a published one
            row.title, row.body, row.keywords, row.revision = draft.title, draft.body, draft.keywords, number
            row.category, row.related = draft.category, list(draft.related)  # keeps what readers see
        s.flush()
        return row, number

    def _publish_in(self, s: Any, row: store.ArticleRow, number: int, *, fresh: bool = False) -> None:
        s.execute(update(store.RevisionRow).where(store.RevisionRow.article_id == row.id)
                  .values(published=False))  # the flag marks the one revision the public sees
        revision = s.scalars(select(store.RevisionRow).where(store.RevisionRow.article_id == row.id,
                                                             store.RevisionRow.number == number)).first()
        if revision is None:
            raise NotFound("no such revision")
        revision.published = True
        row.title, row.body, row.keywords, row.revision = revision.title, revision.body, revision.keywords, number
        row.category, row.related = revision.category, list(revision.related or [])
        row.published, row.updated_at = True, self.clock.now()
        terms, row.length = postings(row.title, row.keywords, plain(row.body))
        store.replace_postings(s, row, terms, fresh=fresh)

    # --- reading --------------------------------------------------------------------------------------------

    def article(self, locale: str, key: str, *, count_view: bool = True) -> dict[str, Any]:
        """A published article with its translations and related articles (each only if published)."""
        with self.db.reader() as uow:
            s = uow.session
            row = self._find(s, locale, key)
            if row is None or not row.published:
                raise NotFound("no such article")
            others = s.scalars(select(store.ArticleRow).where(
                store.ArticleRow.published.is_(True),
                ((store.ArticleRow.key == key) & (store.ArticleRow.locale != locale))
                | ((store.ArticleRow.locale == locale) & store.ArticleRow.key.in_(row.related or [])))).all()
        if count_view:
            with self.db.uow() as uow:
                uow.session.execute(update(store.ArticleRow).where(store.ArticleRow.id == row.id)
                                    .values(views=store.ArticleRow.views + 1))
                uow.commit()
        related = {o.key: o for o in others if o.locale == locale}
        return {**self._summary(row), "body": row.body, "updated_at": row.updated_at.isoformat(),
                "helpful": row.helpful, "unhelpful": row.unhelpful,
                "translations": [{"locale": o.locale, "title": o.title, "url": article_url(o.locale, o.key)}
                                 for o in others if o.key == key and o.locale != locale],
                "related": [self._summary(related[k]) for k in (row.related or []) if k in related]}

    @staticmethod
    def _summary(row: store.ArticleRow) -> dict[str, Any]:
        return {"id": str(row.id), "key": row.key, "locale": row.locale, "title": row.title,
                "category": row.category, "url": article_url(row.locale, row.key), "views": row.views}

    def home(self, locale: str, popular: int = 6) -> dict[str, Any]:
        a = store.ArticleRow
        shown = (a.locale == locale, a.published.is_(True))
        with self.db.reader() as uow:
            counts = dict(uow.session.execute(select(a.category, func.count()).where(*shown)
                                              .group_by(a.category)).all())
            top = uow.session.scalars(select(a).where(*shown).order_by(a.views.desc(), a.key).limit(popular)).all()
        return {"categories": [{"id": c, "name": names.get(locale, names["en"]), "count": counts.get(c, 0)}
                               for c, names in CATEGORIES.items()],
                "popular": [self._summary(r) for r in top]}

    def category(self, locale: str, category: str) -> list[dict[str, Any]]:
        if category not in CATEGORIES:
            raise NotFound("no such category")
        with self.db.reader() as uow:
            rows = uow.session.scalars(select(store.ArticleRow).where(
                store.ArticleRow.locale == locale, store.ArticleRow.published.is_(True),
                store.ArticleRow.category == category).order_by(store.ArticleRow.title)).all()
        return [self._summary(r) for r in rows]

    def vote(self, locale: str, key: str, helpful: bool, comment: str = "") -> None:
        if len(comment) > 1000:
            raise InvalidRequest("a comment of at most 1000 characters")
        comment = printable(comment)
        with self.db.uow() as uow:
            row = self._find(uow.session, locale, key)
            if row is None or not row.published:
                raise NotFound("no such article")
            uow.session.add(store.VoteRow(id=uuid7(), article_id=row.id, helpful=helpful, comment=comment.strip(),
                                          created_at=self.clock.now()))
            column = store.ArticleRow.helpful if helpful else store.ArticleRow.unhelpful
            uow.session.execute(update(store.ArticleRow).where(store.ArticleRow.id == row.id)
                                .values({column: column + 1}))
            uow.commit()

    def search(self, q: str, locale: str, limit: int = 10, *, log_miss: bool = False) -> list[dict[str, Any]]:
        """Published articles of `locale` that answer `q`, best first, each with a highlighted snippet.
        `log_miss`: keep a search that found nothing for editors (the help pages' own search box does; the
        chat widget's suggestions don't — those are visitors' private messages)."""
        if locale not in LOCALES:
            raise InvalidRequest(f"the locale is one of {', '.join(LOCALES)}")
        q = printable(q)[:200].strip()
        if not q:
            return []
        with self.db.reader() as uow:
            s = uow.session
            hits = self.index.search(s, q, locale, max(1, min(limit, 50)))
            rows = {r.id: r for r in s.scalars(select(store.ArticleRow).where(
                store.ArticleRow.id.in_([h.article_id for h in hits])))} if hits else {}
        items = [{**self._summary(rows[h.article_id]), "score": h.score,
                  "snippet": snippet(plain(rows[h.article_id].body), q)} for h in hits if h.article_id in rows]
        if not items and log_miss:
            with self.db.uow() as uow:
                uow.session.add(store.MissRow(id=uuid7(), query=q, locale=locale, created_at=self.clock.now()))
                uow.commit()
        return items

    # --- editors --------------------------------------------------------------------------------------------

    def editor_list(self) -> list[dict[str, Any]]:
        with self.db.reader() as uow:
            s = uow.session
            latest = dict(s.execute(select(store.RevisionRow.article_id, func.max(store.RevisionRow.number))
                                    .group_by(store.RevisionRow.article_id)).all())
            rows = s.scalars(select(store.ArticleRow).order_by(store.ArticleRow.key, store.ArticleRow.locale)).all()
        return [{**self._summary(r), "published": r.published, "revision": r.revision,
                 "latest": int(latest.get(r.id, 0)), "helpful": r.helpful, "unhelpful": r.unhelpful} for r in rows]

    def editor_view(self, article_id: UUID) -> dict[str, Any]:
        """The article with its newest revision (a draft, if newer than what is published) and its history."""
        with self.db.reader() as uow:
            s = uow.session
            row = s.get(store.ArticleRow, article_id)
            if row is None:
                raise NotFound("no such article")
            revisions = s.scalars(select(store.RevisionRow).where(store.RevisionRow.article_id == article_id)
                                  .order_by(store.RevisionRow.number.desc())).all()
        newest = revisions[0]
        return {**self._summary(row), "published": row.published, "revision": row.revision,
                "draft": {"number": newest.number, "title": newest.title, "body": newest.body,
                          "keywords": newest.keywords, "category": newest.category,
                          "related": list(newest.related or [])},
                "related": list(row.related or []),
                "history": [{"number": r.number, "author": r.author, "published": r.published,
                             "at": r.created_at.isoformat()} for r in revisions]}

    def editor_view_of(self, locale: str, key: str) -> dict[str, Any] | None:
        with self.db.reader() as uow:
            row = self._find(uow.session, locale, key)
        return self.editor_view(row.id) if row is not None else None

    def misses(self, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Searches that found nothing, most frequent first."""
        m = store.MissRow
        query = select(m.query, m.locale, func.count(), func.max(m.created_at)).group_by(m.query, m.locale)
        if since is not None:
            query = query.where(m.created_at >= since)
        with self.db.reader() as uow:
            rows = uow.session.execute(query.order_by(func.count().desc(), m.query).limit(limit)).all()
        return [{"query": q, "locale": loc, "count": int(n), "last": last.isoformat()} for q, loc, n, last in rows]
