"""Articles, their revisions and votes, the search index (postings of our own tokens) and the queries that
found nothing. Never commits."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, delete, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType


class ArticleRow(Base):
    __tablename__ = "help_articles"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    key: Mapped[str] = mapped_column(String(80))  # the same in every language: links the translations
    locale: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    keywords: Mapped[str] = mapped_column(String(500), default="")
    related: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    length: Mapped[int] = mapped_column(Integer, default=0)  # tokens in title, keywords and body, for ranking
    views: Mapped[int] = mapped_column(Integer, default=0)
    helpful: Mapped[int] = mapped_column(Integer, default=0)
    unhelpful: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("locale", "key", name="uq_help_articles_locale_key"),)


class RevisionRow(Base):
    __tablename__ = "help_revisions"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    article_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("help_articles.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(String(500), default="")
    category: Mapped[str] = mapped_column(String(20))
    related: Mapped[list[str]] = mapped_column(JSON, default=list)
    author: Mapped[str] = mapped_column(String(100))
    # Whether this revision is the one the public sees now (one per article at most).
    published: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("article_id", "number", name="uq_help_revisions_article_number"),)


class PostingRow(Base):
    """One term of one published article: how often it appears in the title, the keywords and the body, and
    the article's length (copied here so that ranking reads this table alone, through one covering index).
    Only published articles have postings."""

    __tablename__ = "help_postings"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("help_articles.id"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(8))
    in_title: Mapped[int] = mapped_column(Integer)
    in_keywords: Mapped[int] = mapped_column(Integer)
    in_body: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_help_postings_rank", "locale", "term", "article_id", "in_title", "in_keywords",
                            "in_body", "length"),
                      Index("ix_help_postings_article", "article_id"))


class VoteRow(Base):
    __tablename__ = "help_votes"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    article_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("help_articles.id"))
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MissRow(Base):
    """A search that found nothing, for editors to write what people look for."""

    __tablename__ = "help_misses"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    query: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def replace_postings(session: Session, article: ArticleRow, postings: dict[str, tuple[int, int, int]],
                     *, fresh: bool = False) -> None:
    """The article's postings become `postings` (`fresh`: it has none yet). One multi-row INSERT."""
    if not fresh:
        session.execute(delete(PostingRow).where(PostingRow.article_id == article.id))
    if postings:
        session.execute(insert(PostingRow), [
            {"term": term, "article_id": article.id, "locale": article.locale, "in_title": t, "in_keywords": k,
             "in_body": b, "length": article.length} for term, (t, k, b) in postings.items()])
