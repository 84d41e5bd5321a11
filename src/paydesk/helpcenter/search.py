"""Ranked search over published articles, the same on SQLite and PostgreSQL.

The index is a table of postings of our own tokens (helpcenter/text.py): for each term of an article, how
often it occurs in the title, the keywords and the body. A query's terms are looked up there and ranked with
BM25F — field weights (title 3, keywords 2, body 1) applied to the term frequencies, the usual saturation
(k1 = 1.2) and length normalisation (b = 0.75) — computed in one SQL aggregate of plain arithmetic, with
each term's IDF worked out in Python from its document frequency. Both databases run the same statement
over the same rows, so the same content gives the same results (ties go by article id). An English query word
that is in no article is replaced by the index's words one edit away ("pasword" → "password"), at a little
less weight."""

from __future__ import annotations

import html
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Float, case, cast, func, literal, select
from sqlalchemy.orm import Session

from paydesk.helpcenter import store
from paydesk.helpcenter.text import fold_char, tokens, within_one_edit

K1, B = 1.2, 0.75
W_TITLE, W_KEYWORDS, W_BODY = 3.0, 2.0, 1.0
TYPO_WEIGHT = 0.7
COMMON_SHARE = 0.25
COMMON_MIN = 500  # articles: below this, no word is too common to count
MAX_TERMS = 16
VOCABULARY_TTL_S = 60.0


def postings(title: str, keywords: str, body: str) -> tuple[dict[str, tuple[int, int, int]], int]:
    """Each term's (title, keywords, body) counts, and the article's length in tokens."""
    t, k, b = Counter(tokens(title)), Counter(tokens(keywords)), Counter(tokens(body))
    length = sum(t.values()) + sum(k.values()) + sum(b.values())
    return {term: (t[term], k[term], b[term]) for term in {*t, *k, *b}}, length


@dataclass(frozen=True)
class Hit:
    article_id: Any
    score: float


class _Stats:
    """Per locale: how many published articles, their mean length, and the vocabulary (for typos)."""

    def __init__(self, count: int, mean_length: float, words: set[str]) -> None:
        self.count, self.mean_length, self.words = count, mean_length, words
        self.by_shape: dict[tuple[str, int], list[str]] = {}
        for word in words:
            if word.isascii() and word.isalpha():
                self.by_shape.setdefault((word[0], len(word)), []).append(word)
        self.at = time.monotonic()

    def near(self, word: str) -> list[str]:
        """Index words one edit away (same first letter; a typo rarely hits the first one)."""
        found = []
        for size in (len(word) - 1, len(word), len(word) + 1):
            found += [w for w in self.by_shape.get((word[0], size), ()) if within_one_edit(word, w)]
        return found


class SearchIndex:
    def __init__(self) -> None:
        self._stats: dict[str, _Stats] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by forget(): statistics read before it are not kept

    def forget(self) -> None:
        """Articles changed: statistics are read again at the next search."""
        with self._lock:
            self._stats.clear()
            self._generation += 1

    def _stats_for(self, s: Session, locale: str) -> _Stats:
        with self._lock:
            cached = self._stats.get(locale)
            if cached is not None and time.monotonic() - cached.at < VOCABULARY_TTL_S:
                return cached
            generation = self._generation
        count, total = s.execute(select(func.count(), func.coalesce(func.sum(store.ArticleRow.length), 0)).where(
            store.ArticleRow.locale == locale, store.ArticleRow.published.is_(True))).one()
        words = set(s.scalars(select(store.PostingRow.term).where(store.PostingRow.locale == locale).distinct()))
        stats = _Stats(int(count), (int(total) / int(count)) if count else 1.0, words)
        with self._lock:
            if generation == self._generation:
                self._stats[locale] = stats
        return stats

    def query_terms(self, s: Session, q: str, locale: str) -> dict[str, float]:
        """The query's terms with their weights: 1 for a word in the index, less for a typo's neighbours."""
        stats = self._stats_for(s, locale)
        weights: dict[str, float] = {}
        for term in dict.fromkeys(tokens(q)):
            if len(weights) >= MAX_TERMS:
                break
            if term in stats.words:
                weights[term] = 1.0
            elif term.isascii() and term.isalpha() and len(term) >= 4:
                for near in stats.near(term):
                    weights.setdefault(near, TYPO_WEIGHT)
        return weights

    def search(self, s: Session, q: str, locale: str, limit: int = 10) -> list[Hit]:
        weights = self.query_terms(s, q, locale)
        stats = self._stats_for(s, locale)
        if not weights or not stats.count:
            return []
        p = store.PostingRow
        df = dict(s.execute(select(p.term, func.count()).where(p.locale == locale, p.term.in_(weights))
                            .group_by(p.term)).all())
        idf = {t: w * math.log(1 + (stats.count - df[t] + 0.5) / (df[t] + 0.5)) for t, w in weights.items() if t in df}
        # In a large help center, words in more than a quarter of the articles say little about which one
        # answers (their IDF is a fraction of a rare word's) and have the longest postings: left out while
        # rarer words remain. (A small one keeps every word: the postings are short and each word counts.)
        rare = {t: v for t, v in idf.items() if df[t] <= max(stats.count * COMMON_SHARE, COMMON_MIN)}
        idf = rare or idf
        if not idf:
            return []
        tf = (cast(p.in_title, Float) * W_TITLE + cast(p.in_keywords, Float) * W_KEYWORDS
              + cast(p.in_body, Float) * W_BODY)
        norm = K1 * (1 - B + B * cast(p.length, Float) / stats.mean_length)
        term_idf = case(*((p.term == t, literal(v)) for t, v in idf.items()), else_=literal(0.0))
        score = func.sum(term_idf * tf * (K1 + 1) / (tf + norm)).label("score")
        rows = s.execute(
            select(p.article_id, score).where(p.locale == locale, p.term.in_(idf))
            .group_by(p.article_id).order_by(score.desc(), p.article_id).limit(limit)).all()
        return [Hit(r[0], round(float(r[1]), 6)) for r in rows]


@lru_cache(maxsize=2048)
def _folded(text: str) -> tuple[str, str, Sequence[int]]:
    """An article's text with spaces collapsed, its folded form, and where each folded character came from
    (kept for the articles searched most)."""
    text = " ".join(text.split())
    pieces = list(map(fold_char, text))
    folded = "".join(pieces)
    if len(folded) == len(text):  # the usual case: positions are the same in both
        return text, folded, range(len(text))
    # a character folded to several ("…" → "..."): map each folded position to its original one
    return text, folded, [i for i, piece in enumerate(pieces) for _ in piece]


def snippet(text: str, q: str, width: int = 160) -> str:
    """A piece of `text` around the first word of the query it contains, HTML-escaped, matches in <mark>.
    Matching runs on the folded text; a map from folded to original positions marks the original words."""
    text, folded, owner = _folded(text)
    terms = {t for t in tokens(q) if len(t) > 1 or not t.isascii()}
    found = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))) if terms else None
    spans = [(owner[m.start()], owner[m.end() - 1] + 1) for m in found.finditer(folded)] if found else []
    first = spans[0][0] if spans else 0
    begin = max(0, first - width // 3)
    end = min(len(text), begin + width)
    out, at = [], begin
    for start, stop in spans:
        if start < at or start >= end:
            continue
        out.append(html.escape(text[at:start]))
        out.append(f"<mark>{html.escape(text[start:min(stop, end)])}</mark>")
        at = min(stop, end)
    out.append(html.escape(text[at:end]))
    return ("…" if begin else "") + "".join(out).strip() + ("…" if end < len(text) else "")
