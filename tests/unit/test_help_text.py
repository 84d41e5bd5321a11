"""The help center's text rules: folding and tokens for search, safe rendering, live-data placeholders, and
the starter content's own consistency."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.helpcenter.domain import CATEGORIES, LOCALES, ArticleDraft, ArticleInvalid, parse_file, plain, to_html
from paydesk.helpcenter.search import snippet
from paydesk.helpcenter.service import CONTENT
from paydesk.helpcenter.text import english_stem, fold, tokens, within_one_edit


def test_traditional_and_simplified_chinese_fold_to_one_form() -> None:
    assert tokens("帳戶被鎖定") == tokens("账户被锁定")
    assert "记录" in tokens("登入紀錄")  # Taiwan's words become the mainland's
    assert fold("ＡＢＣ１２３") == "abc123"  # full-width letters and digits


def test_a_run_of_chinese_is_cut_into_words_not_kept_as_one_token() -> None:
    words = tokens("忘记密码怎么办提现多久到账")  # 到账 and 提现: words of this domain, kept whole
    assert {"忘记", "密码", "提现", "到账"} <= set(words)
    assert "忘记密码怎么办提现多久到账" not in words
    assert "怎么办" not in words or "怎么" not in words  # function words are dropped


def test_english_case_plurals_and_possessives_fold() -> None:
    assert tokens("Accounts") == tokens("account") == tokens("account's") == ["account"]
    assert english_stem("fees") == "fee" and english_stem("currencies") == "currency"
    assert english_stem("address") == "address" and english_stem("status") == "status"
    assert tokens("How do I reset my password?") == ["reset", "password"]


@given(st.text(alphabet="abcdefgh", min_size=1, max_size=8), st.integers(0, 7), st.sampled_from("xyz"))
def test_one_edit_is_recognised_and_two_are_not(word: str, at: int, letter: str) -> None:
    at = at % len(word)
    assert within_one_edit(word, word[:at] + letter + word[at + 1:])  # one substituted
    assert within_one_edit(word, word[:at] + word[at + 1:])  # one missing
    assert within_one_edit(word, word[:at] + letter + word[at:])  # one extra
    assert not within_one_edit(word, word + letter + letter)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", "[click](javascript:alert(1))", '<img src=x onerror="alert(1)">',
    '<a href="https://example.com" onclick="steal()">x</a>', "<iframe src='https://evil.example'></iframe>",
    "<style>body{display:none}</style>", "[x](data:text/html;base64,PHNjcmlwdD4=)", "[y](JaVaScRiPt:alert(1))",
    '<svg onload="alert(1)">', "[![i](x)](vbscript:msgbox)",
])
def test_rendering_never_lets_script_or_unsafe_links_through(hostile: str) -> None:
    html = to_html(f"Hello\n\n{hostile}\n\nbye", {})
    parser = _Elements()
    parser.feed(html)
    assert {tag for tag, _ in parser.found} <= {"p", "a"}
    for _, attrs in parser.found:
        for name, value in attrs:
            assert not name.startswith("on")
            assert name != "href" or (value or "").startswith(("http", "/", "mailto:", "tel:", "#"))
    assert "Hello" in html and "bye" in html


def test_markdown_renders_with_links_marked_safe_and_live_data_in_place() -> None:
    html = to_html("## Fees\n\n{{fees:p2p}}\n\nSee [fees](/fees) and {{hours}} today.",
                   {"fees:p2p": "<table>live</table>", "hours": "<span>9–5</span>"})
    assert "<h2>Fees</h2>" in html and "<table>live</table>" in html and "<p><table>" not in html
    assert 'rel="noopener noreferrer"' in html and "<span>9–5</span> today" in html


def test_placeholders_are_not_replaced_inside_attributes_or_code() -> None:
    html = to_html('[see](/x "{{hours}}") and `{{hours}}` but {{hours}}', {"hours": '<b class="h">9</b>'})
    assert 'title="{{hours}}"' in html and "<code>{{hours}}</code>" in html
    assert html.count('<b class="h">9</b>') == 1


def test_accented_and_very_long_words_are_single_terms() -> None:
    assert tokens("Café naïve") == ["café", "naïve"]
    assert tokens("x" * 100) == ["x" * 64] == tokens("x" * 70)


def test_an_unknown_placeholder_or_a_bad_field_is_refused_with_its_reason() -> None:
    with pytest.raises(ArticleInvalid, match="unknown live data: fee"):
        ArticleDraft("k", "en", "T", "fees", "{{fee}}").checked()
    with pytest.raises(ArticleInvalid, match="category"):
        ArticleDraft("k", "en", "T", "misc", "body").checked()
    with pytest.raises(ArticleInvalid, match="key"):
        ArticleDraft("Bad Key", "en", "T", "fees", "body").checked()
    with pytest.raises(ArticleInvalid, match="key"):
        ArticleDraft("abc\n", "en", "T", "fees", "body").checked()
    with pytest.raises(ArticleInvalid, match="related"):
        ArticleDraft("abc", "en", "T", "fees", "body", related=["x\n"]).checked()


def test_snippets_mark_matches_in_the_original_text_and_escape_it() -> None:
    text = "Paydesk locks the ACCOUNT <b>after</b> 5 wrong passwords. " + "x " * 200
    got = snippet(text, "account password")
    assert "<mark>ACCOUNT</mark>" in got and "<mark>password</mark>s" in got and "&lt;b&gt;" in got
    assert "<mark>帳戶</mark>" in snippet("您的帳戶已鎖定", "账户")


def test_the_starter_content_is_complete_in_both_languages_and_consistent() -> None:
    keys = {loc: {p.stem for p in (CONTENT / loc).glob("*.md")} for loc in LOCALES}
    assert keys["en"] == keys["zh-CN"] and len(keys["en"]) >= 20
    for loc in LOCALES:
        for path in sorted((CONTENT / loc).glob("*.md")):
            draft = parse_file(path.stem, loc, path.read_text(encoding="utf-8"))
            assert draft.category in CATEGORIES
            assert set(draft.related) <= keys[loc], path
            for link in re.findall(r"\]\(/help/([^/]+)/articles/([a-z0-9-]+)\)", draft.body):
                assert link[0] == loc and link[1] in keys[loc], (path, link)
            assert len(plain(draft.body).split()) > 50 or len(plain(draft.body)) > 250


def test_starter_files_parse_strictly() -> None:
    with pytest.raises(ArticleInvalid, match="front matter"):
        parse_file("k", "en", "no front matter here")
