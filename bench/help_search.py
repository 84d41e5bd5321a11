"""Help search: 10,000 generated articles (half Chinese, half English, the starter articles among them), 1,000
queries; p50/p95 query latency of the ranked search on SQLite (and PostgreSQL when PAYDESK_TEST_DATABASE_URL
is set), next to a naive search measured in the same run on the same rows (LIKE '%word%' on title and body,
ranked by how many words match), and the recall@5 / MRR of the labelled query set against the whole corpus.
Prints one JSON line per database.

    .venv/bin/python bench/help_search.py [--articles 10000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jieba
from sqlalchemy import Integer, case, func, literal, or_, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.test_help_search import labelled, quality  # noqa: E402

from paydesk.config import Settings  # noqa: E402
from paydesk.container import Container, build  # noqa: E402
from paydesk.core.migrate import upgrade  # noqa: E402
from paydesk.helpcenter import store  # noqa: E402
from paydesk.helpcenter.domain import CATEGORIES, LOCALES, ArticleDraft, parse_file, plain  # noqa: E402
from paydesk.helpcenter.service import CONTENT  # noqa: E402
from paydesk.helpcenter.text import tokens  # noqa: E402


def starter() -> list[ArticleDraft]:
    return [parse_file(p.stem, loc, p.read_text(encoding="utf-8")) for loc in LOCALES
            for p in sorted((CONTENT / loc).glob("*.md"))]


def generated(count: int, seed: int = 7) -> list[ArticleDraft]:
    """Articles about other things: each word drawn from the starter articles' own words (by their frequency)
    three times in ten, else from a large vocabulary of other words (jieba's dictionary for Chinese, made-up
    words for English) — so the common words have long postings and the answers must still rank first."""
    rng = random.Random(seed)
    real = {loc: [t for d in starter() if d.locale == loc for t in tokens(d.title + " " + plain(d.body))]
            for loc in LOCALES}
    dictionary = Path(jieba.__file__).with_name("dict.txt").read_text(encoding="utf-8").splitlines()
    chinese = [w for w, f, *_ in (line.split() for line in dictionary) if len(w) >= 2 and int(f) >= 20]
    syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "quen", "dri", "sul", "bem", "tor", "nix", "pa", "gle"]
    other = {"zh-CN": rng.sample(chinese, 40_000),
             "en": ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(20_000)]}

    def words(locale: str, n: int) -> str:
        picked = [rng.choice(real[locale]) if rng.random() < 0.3 else rng.choice(other[locale]) for _ in range(n)]
        return ("" if locale == "zh-CN" else " ").join(picked)

    return [ArticleDraft(key=f"gen-{n}", locale=LOCALES[n % 2], title=words(LOCALES[n % 2], 6)[:200],
                         category=rng.choice(list(CATEGORIES)), body=words(LOCALES[n % 2], 90))
            for n in range(count)]


def queries(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """The labelled queries, then words and pairs of words from the corpus, to `count`."""
    rng = random.Random(seed)
    out = [(q["q"], q["locale"]) for q in labelled()]
    words = {loc: sorted({t for d in starter() if d.locale == loc for t in tokens(d.title)}) for loc in LOCALES}
    while len(out) < count:
        locale = rng.choice(LOCALES)
        out.append((" ".join(rng.sample(words[locale], rng.choice((1, 2, 3)))), locale))
    return out[:count]


def naive(app: Container, q: str, locale: str, limit: int = 10) -> list[Any]:
    """The baseline: every article's title and body scanned for each query word."""
    a = store.ArticleRow
    words = list(dict.fromkeys(tokens(q)))[:8]
    if not words:
        return []
    hits = sum((case((or_(a.title.contains(w), a.body.contains(w)), 1), else_=0) for w in words), literal(0))
    with app.db.reader() as uow:
        return list(uow.session.execute(
            select(a.key, hits.cast(Integer).label("n")).where(a.locale == locale, a.published.is_(True))
            .where(or_(*[or_(a.title.contains(w), a.body.contains(w)) for w in words]))
            .order_by(text("n DESC"), a.key).limit(limit)).all())


def timed(fn: Any, qs: list[tuple[str, str]]) -> dict[str, float]:
    took = []
    for q, locale in qs:
        started = time.perf_counter()
        fn(q, locale)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {"p50_ms": round(statistics.median(took), 2), "p95_ms": round(took[int(len(took) * 0.95) - 1], 2)}


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    app = build(Settings(env="test", secret_key="b" * 48, database_url=url))
    try:
        with app.db.transaction() as s:  # a clean slate (the PostgreSQL database may be shared)
            for table in ("help_votes", "help_revisions", "help_postings", "help_misses", "help_articles"):
                s.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        started = time.perf_counter()
        app.help.publish_many(starter() + generated(args.articles - len(starter())), "bench")
        indexed_s = time.perf_counter() - started
        if app.db.dialect == "postgresql":  # what autovacuum does soon after a bulk load: index-only scans work
            with app.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE help_postings"))
        qs = queries(args.queries)
        for q, locale in qs[:50]:  # warm caches and the tokenizer's dictionary
            app.help.search(q, locale, 10, log_miss=False)
        ours = timed(lambda q, loc: app.help.search(q, loc, 10, log_miss=False), qs)
        baseline = timed(lambda q, loc: naive(app, q, loc), qs)
        labelled_quality = quality(app)
        rankings = [[i["key"] for i in app.help.search(q, loc, 5, log_miss=False)] for q, loc in qs]
        with app.db.reader() as uow:
            postings = uow.session.scalar(select(func.count()).select_from(store.PostingRow))
    finally:
        app.close()
    return {"scenario": "help_search", "database": url.split(":")[0].split("+")[0], "articles": args.articles,
            "postings": postings, "index_s": round(indexed_s, 1), "queries": len(qs), **ours,
            "naive_p50_ms": baseline["p50_ms"], "naive_p95_ms": baseline["p95_ms"],
            "ratio_p95": round(ours["p95_ms"] / baseline["p95_ms"], 3) if baseline["p95_ms"] else None,
            "recall_at_5": {k: round(v["recall_at_5"], 3) for k, v in labelled_quality.items()},
            "mrr": {k: round(v["mrr"], 3) for k, v in labelled_quality.items()}, "rankings": rankings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = [f"sqlite:///{tmp}/help.db"]
        if os.environ.get("PAYDESK_TEST_DATABASE_URL"):
            urls.append(os.environ["PAYDESK_TEST_DATABASE_URL"])
        first: list[list[str]] | None = None
        for url in urls:
            upgrade(url)
            result = measure(url, args)
            rankings = result.pop("rankings")
            if first is None:
                first = rankings
            else:  # the same content ranked by the other database: how many top-5 lists are identical
                same = sum(a == b for a, b in zip(first, rankings, strict=True))
                result["same_top5_as_sqlite"] = round(same / len(first), 4)
            print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
