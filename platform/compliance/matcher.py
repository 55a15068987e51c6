"""Finding absolute terms in merchant text, through the usual disguises.

Text and terms are compared in a folded form, one source character at a time (so every match
maps back to its place in the original text):

* whitespace and invisible format characters (zero-width space and joiners, BOM, soft hyphen:
  Unicode category Cf) are dropped — ``国 家\u200b级`` reads ``国家级``;
* NFKC: full-width letters, digits and signs become half-width (``ＮＯ．１`` → ``NO.1``);
* traditional characters become simplified (``國家級`` → ``国家级``), character by character with
  OpenCC's t2s dictionary (opencc-purepy, pure Python, dictionaries inside the wheel);
* case-folded (``Top 1`` → ``top1``).

A term that begins or ends with a Latin letter or digit only matches at a word edge of the
original text, so ``stop 1`` is not ``top1``, ``1100%`` is not ``100%``, and ``We are No. 1`` is
``no.1``. Where terms overlap, the longest wins
(``史上最低价`` hides ``最低价``, ``最低`` and ``最`` inside it); terms that only partly overlap are
both reported.

The matcher (an index from first folded character to the terms starting with it, longest
first) is built once per revision of the term list and kept per app; a check costs one read of
the revision.
"""
from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app

_t2s_lock = threading.Lock()
_t2s_converter = None


def _t2s(char: str) -> str:
    global _t2s_converter
    if _t2s_converter is None:
        with _t2s_lock:
            if _t2s_converter is None:
                from opencc_purepy import OpenCC

                _t2s_converter = OpenCC("t2s")
    return _t2s_converter.convert(char)


def _is_han(char: str) -> bool:
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF


def _dropped(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"


@lru_cache(maxsize=100_000)
def fold_char(char: str) -> str:
    """The folded form of one character ('' when it is dropped)."""
    if _dropped(char):
        return ""
    out = []
    for part in unicodedata.normalize("NFKC", char):
        if _dropped(part):
            continue
        out.append((_t2s(part) if _is_han(part) else part).casefold())
    return "".join(out)


def fold(text: str) -> tuple[str, list[int]]:
    """``(folded text, source index of every folded character)``."""
    folded, where = [], []
    for index, char in enumerate(text or ""):
        for part in fold_char(char):
            folded.append(part)
            where.append(index)
    return "".join(folded), where


def _wordy(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _at_word_edges(key: str, text: str, start: int, end: int) -> bool:
    """A term that begins (ends) with a Latin letter or digit must not touch one in the original
    text (spaces are dropped from the folded text, so the edges are judged in the original)."""
    if _wordy(key[0]) and start > 0 and _wordy(fold_char(text[start - 1])[-1:] or " "):
        return False
    if _wordy(key[-1]) and end < len(text) and _wordy(fold_char(text[end])[:1] or " "):
        return False
    return True


@dataclass(frozen=True)
class TermRule:
    term: str
    key: str
    kind: str
    action: str
    block_categories: frozenset
    reason: str

    def blocks_in(self, category: str | None) -> bool:
        return self.action == "block" or (category is not None and category in self.block_categories)


@dataclass(frozen=True)
class Match:
    rule: TermRule
    start: int  # index in the original text
    end: int    # exclusive
    text: str   # the original characters, as written

    @property
    def term(self) -> str:
        return self.rule.term


class Matcher:
    def __init__(self, rules):
        index: dict[str, list[TermRule]] = {}
        for rule in rules:
            if rule.key:
                index.setdefault(rule.key[0], []).append(rule)
        for candidates in index.values():
            candidates.sort(key=lambda rule: -len(rule.key))
        self._index = index

    def find(self, text: str) -> list[Match]:
        """Every term in ``text``, in order; terms inside a longer match are left out."""
        if not text:
            return []
        folded, where = fold(text)
        found, reach = [], 0
        for i, char in enumerate(folded):
            for rule in self._index.get(char, ()):
                j = i + len(rule.key)
                if not folded.startswith(rule.key, i):
                    continue
                start, end = where[i], where[j - 1] + 1
                if not _at_word_edges(rule.key, text, start, end):
                    continue
                if j > reach:  # not inside an earlier, longer match
                    found.append(Match(rule, start, end, text[start:end]))
                    reach = j
                break  # the longest term starting here
        return found


def build(terms) -> Matcher:
    return Matcher(TermRule(t.term, t.key, t.kind, t.action, frozenset(t.block_categories or ()), t.reason or "")
                   for t in terms)


class _Cached:
    def __init__(self):
        self.revision: int | None = None
        self.matcher: Matcher | None = None
        self.builds = 0
        self.lock = threading.Lock()


def current_matcher() -> Matcher:
    """The matcher of the current term list (rebuilt when an admin changed the list)."""
    from mallow.compliance.terms import active_terms, revision

    cached = current_app.extensions.setdefault("mallow.compliance", _Cached())
    now = revision()
    if cached.matcher is None or cached.revision != now:
        with cached.lock:
            if cached.matcher is None or cached.revision != now:
                cached.matcher = build(active_terms())
                cached.revision = now
                cached.builds += 1
    return cached.matcher
