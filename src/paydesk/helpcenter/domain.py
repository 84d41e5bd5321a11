"""Help-center rules without I/O: categories, an article file's front matter, Markdown to safe HTML, and the
live-data placeholders articles embed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import nh3
from markdown_it import MarkdownIt

from paydesk.core.errors import InvalidRequest

LOCALES = ("en", "zh-CN")
CATEGORIES: dict[str, dict[str, str]] = {
    "contact": {"en": "Contact us", "zh-CN": "联系我们"},
    "account": {"en": "Your account", "zh-CN": "账户"},
    "security": {"en": "Sign-in and security", "zh-CN": "登录与安全"},
    "payments": {"en": "Top-up, send and withdraw", "zh-CN": "充值、转账与提现"},
    "fees": {"en": "Fees, limits and exchange", "zh-CN": "费用、限额与汇率"},
    "complaints": {"en": "Complaints", "zh-CN": "投诉"},
}
EMBEDS = ("fees:p2p", "fees:topup", "fees:withdraw", "fees:exchange", "limits", "currencies", "spreads", "contact",
          "hours", "complaint_deadlines")
_EMBED = re.compile(r"\{\{\s*([a-z_]+(?::[a-z0-9_]+)?)\s*\}\}")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {"p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "a", "table",
                 "thead", "tbody", "tr", "th", "td", "br", "hr"}


class ArticleInvalid(InvalidRequest):
    code = "article_invalid"


@dataclass
class ArticleDraft:
    key: str
    locale: str
    title: str
    category: str
    body: str
    keywords: str = ""
    related: list[str] = field(default_factory=list)

    def checked(self) -> ArticleDraft:
        problems = []
        if not _SLUG.fullmatch(self.key) or len(self.key) > 80:
            problems.append("the key is lowercase letters, digits and dashes (at most 80)")
        if self.locale not in LOCALES:
            problems.append(f"the locale is one of {', '.join(LOCALES)}")
        if not 1 <= len(self.title.strip()) <= 200:
            problems.append("a title of 1 to 200 characters")
        if self.category not in CATEGORIES:
            problems.append(f"the category is one of {', '.join(CATEGORIES)}")
        if not 1 <= len(self.body.strip()) <= 50_000:
            problems.append("a body of 1 to 50,000 characters")
        if len(self.keywords) > 500 or len(self.related) > 10 or any(not _SLUG.fullmatch(r) for r in self.related):
            problems.append("keywords of at most 500 characters and at most 10 related article keys")
        unknown = sorted({m.group(1) for m in _EMBED.finditer(self.body)} - set(EMBEDS))
        if unknown:
            problems.append(f"unknown live data: {', '.join(unknown)} (known: {', '.join(EMBEDS)})")
        if problems:
            raise ArticleInvalid("; ".join(problems))
        self.title, self.body, self.keywords = self.title.strip(), self.body.strip(), self.keywords.strip()
        return self


def parse_file(key: str, locale: str, text: str) -> ArticleDraft:
    """A starter article: a `---` block of `name: value` lines, then Markdown."""
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if not match:
        raise ArticleInvalid(f"{locale}/{key}: no front matter")
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        name, _, value = line.partition(":")
        meta[name.strip()] = value.strip()
    related = [r.strip() for r in meta.get("related", "").split(",") if r.strip()]
    return ArticleDraft(key=key, locale=locale, title=meta.get("title", ""), category=meta.get("category", ""),
                        body=match.group(2), keywords=meta.get("keywords", ""), related=related).checked()


def to_html(body: str, embed: dict[str, str]) -> str:
    """Markdown → HTML with only safe tags and attributes (raw HTML in the Markdown is shown as text, and
    whatever gets through is cleaned again by nh3); then each `{{name}}` becomes the live data's HTML, which the
    application builds from its own values (escaped there)."""
    html = nh3.clean(_markdown.render(body), tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto", "tel"}, link_rel="noopener noreferrer")

    def live(match: re.Match[str]) -> str:
        return embed.get(match.group(1), "")

    html = re.sub(r"<p>\s*\{\{\s*([a-z_]+(?::[a-z0-9_]+)?)\s*\}\}\s*</p>", live, html)
    # Inline placeholders only in text: never inside a tag (an attribute) or in code.
    out, in_code = [], 0
    for part in re.split(r"(<[^>]*>)", html):
        if part.startswith("<"):
            name = part.strip("</>").split()[0].lower() if part.strip("</> ") else ""
            if name in ("code", "pre"):
                in_code += -1 if part.startswith("</") else 1
            out.append(part)
        else:
            out.append(part if in_code else _EMBED.sub(live, part))
    return "".join(out)


def embeds_used(body: str) -> set[str]:
    """The live data a body asks for."""
    return {m.group(1) for m in _EMBED.finditer(body)}


def plain(body: str) -> str:
    """The article's words without Markdown marks or placeholders (for the index and snippets)."""
    text = _EMBED.sub(" ", body)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^\s*(?:[-+]|\d+\.)\s+", "", text, flags=re.M)  # list markers
    return re.sub(r"[#*_`>|]+", " ", text)
