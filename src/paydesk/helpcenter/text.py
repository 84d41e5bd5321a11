"""The search's view of text: one tokenizer for articles and queries, in both languages.

- Fold: Unicode NFKC (full-width letters and digits become ASCII), lower case, Traditional Chinese to
  mainland Simplified (zhconv, with regional words: 網路 → 网络), plus the variants and words that conversion
  leaves apart (帐 → 账, 紀錄 → 记录, 登入 → 登录), so 帳戶 finds 账户.
- Chinese runs are cut into words with jieba's search mode (a long word and the words inside it), so a
  whole run of Chinese characters never becomes one token.
- Latin runs are words; English plurals and possessives fold to one form (accounts, account's → account);
  common function words are dropped.
Articles and queries go through the same function, so the index and the query always agree."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import jieba
import zhconv

_VARIANTS = str.maketrans({"帐": "账", "祕": "秘", "纔": "才", "裏": "里", "爲": "为", "綫": "线"})
# Words Taiwan and Hong Kong write differently from the mainland (after character conversion).
_PHRASES = (("纪录", "记录"), ("登入", "登录"), ("提领", "提现"), ("储值", "充值"), ("汇款", "转账"), ("帐号", "账号"))
_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z0-9\u00c0-\u024f]+(?:['’][a-z]+)?")
MAX_TERM = 64  # characters: longer words are cut (the same way in articles and queries)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
STOP_EN = frozenset("""a an and are as at be by can do does for from how i if in is it its me my of on or our so
that the this to was we what when where which who why will with you your yours am been has have had not no
""".split())
STOP_ZH = frozenset("""的 了 吗 呢 吧 啊 是 在 和 与 及 或 我 您 你 他 她 它 我们 你们 这 那 就 都 也 还 把 被 让 给 对
为 个 上 下 怎么 怎么办 怎么样 怎样 如何 什么 为什么 哪 哪里 哪儿 可以 能 会 要 想 请 有 没有
一 一下 呀 么""".split())

# Words of this domain that jieba's general dictionary cuts apart (到账 → 到 / 账): kept whole, so a query
# and an article meet on the word people use.
DOMAIN_WORDS = ("到账", "提现", "充值", "转账", "手续费", "汇率", "点差", "两步验证", "验证码", "恢复码", "备用码",
                "冻结", "解冻", "锁定", "解锁", "限额", "钱包", "客服", "热线", "投诉", "申诉", "监管", "收款",
                "付款", "退款", "身份验证", "实名认证", "销户", "注销", "数字货币", "加密货币", "币种", "兑换")

_loading = threading.Lock()
_jieba_loaded = False
_zhconv_loaded = False


def fold(text: str) -> str:
    """The one form both sides are compared in."""
    text = unicodedata.normalize("NFKC", text).lower()
    if _CJK.search(text):
        if not _zhconv_loaded:
            _load_zhconv()
        text = zhconv.convert(text, "zh-cn").translate(_VARIANTS)
        for regional, mainland in _PHRASES:
            text = text.replace(regional, mainland)
    return text


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """One character folded (phrase-level conversions aside): for finding matches in the original text."""
    return fold(char)


def english_stem(word: str) -> str:
    """Plurals and possessives to one form; short words and words that only look plural are kept."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "ous")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _load_jieba() -> None:
    global _jieba_loaded
    with _loading:
        if not _jieba_loaded:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            for word in DOMAIN_WORDS:
                jieba.add_word(word, freq=20000)
            _jieba_loaded = True


def _load_zhconv() -> None:
    """zhconv's own lazy load leaves its dictionary file open; read it by path, closed after."""
    global _zhconv_loaded
    with _loading:
        if not _zhconv_loaded:
            zhconv.loaddict(str(Path(zhconv.__file__).with_name("zhcdict.json")))
            _zhconv_loaded = True


def tokens(text: str) -> list[str]:
    """Index terms of `text`, in order (repeats kept: they are term frequencies)."""
    return list(_tokens(fold(text)))


def _tokens(folded: str) -> Iterator[str]:
    for match in _RUN.finditer(folded):
        run = match.group()
        if _CJK.match(run):
            if not _jieba_loaded:
                _load_jieba()
            for word in jieba.cut_for_search(run):
                if word not in STOP_ZH:
                    yield word[:MAX_TERM]
        elif run not in STOP_EN:
            stem = english_stem(run.replace("’", "'"))
            if stem and stem not in STOP_EN:
                yield stem[:MAX_TERM]


def within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance ≤ 1 (one letter wrong, missing, extra, or two neighbours swapped)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]
