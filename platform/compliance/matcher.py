"""Finding absolute terms in merchant text, through the usual disguises.

Text, terms and mandatory statements go through one folding pass, one source character at a
time, so every match maps back to its span in the original text:

* **NFKC**: full-width letters, digits and signs become half-width (``ＮＯ．１`` → ``NO.1``),
  ``№`` → ``No``, ``⑴`` → ``(1)``, ``⒈`` → ``1.``, ``①`` → ``1``, ``㈠`` → ``(一)``, ``㊀`` → ``一``;
* **traditional → simplified** (``國家級`` → ``国家级``), character by character with OpenCC's t2s
  dictionary (opencc-purepy, pure Python, dictionaries inside the wheel);
* **numerals → ASCII digits**: every other numeric character by its value (``❶`` ``➀`` ``⓵`` → ``1``,
  ``⓫`` → ``11``, other scripts' digits), and the Chinese digits, ordinary and financial
  (〇零 一壹 二贰 三叁 … 九玖 → 0–9; not 十百千万, which are not digits), so ``第一``, ``第1``, ``第①``,
  ``第壹`` and ``第１`` all read ``第1``;
* **case-folded** (``Top 1`` → ``top1``); a ``0`` right after a Latin letter and not before a digit
  reads ``o`` (``N0.1``, ``T0P1``);
* **separators dropped**: punctuation, symbols (emoji included), spaces and other Unicode
  categories P*, S*, Z*, C*, and the long-vowel mark ``ー``; combining marks and format
  characters (zero-width space and joiners, BOM, variation selectors, keycaps: M*, Cf) are
  dropped without leaving any gap at all. ``%`` stays when it follows a digit (``100 %``).

So ``国-家-级``, ``国·家·级``, ``国😀家😀级``, ``最‐好`` and ``第(1)`` read ``国家级``, ``最好``, ``第1``.
The separators are remembered, though, so that words are not glued into false matches. Between
a CJK character and another character, a term reads through any separator except a sentence
break (``，。、；：！？``, line breaks), which it crosses only where one side of the break is a single
character (``国，家，级``), never between two words (``风味独特，效果好`` has no ``特效``, ``国家，级别`` no
``国家级``). Between two Latin letters or digits:

* a sentence break (``, ; : ! ?``, ``。、``, line breaks) ends a Latin term: ``Say no, 1 is enough``
  is not ``NO.1``;
* two letters (or two digits) join across a separator only when spelt out one by one (``T O P 1``,
  ``N.O.1``), never two words (``go to p1`` is not ``TOP1``); a letter and a digit join across
  spaces and light punctuation (``No 1``, ``No. 1``, ``Top-1``);
* a Latin term starts and ends at a word edge: not inside a word, nor before a joining hyphen,
  slash, dot or apostrophe (``stop 1``, ``nano.1``, ``No 10``, ``no 1-click``, ``1100%`` and
  ``1,100%`` are not terms). Digits read from Chinese numerals (``唯一一家``) are not Latin.

Where terms overlap, the longest wins (``史上最低价`` hides ``最低价``, ``最低`` and ``最`` inside
it); terms that only partly overlap are both reported. A term wholly inside a **mandatory
statement** (a legally required warning such as ``保健食品不是药物，不能代替药物治疗疾病``, matched
after the same folding, through any separators) is not reported.

The matcher (an index from first folded character to the terms starting with it, longest first,
a character class of those first characters to find where a term may start, and the folded
statements, found with ``str.find``) is built once per revision of the lists and kept per app
(:func:`mallow.compliance.terms.current_matcher`); a check costs one read of the revision and one pass over the text, with a cached look-up per
character.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


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


#: Chinese digits, ordinary and financial (after traditional → simplified); not 十百千万 (not digits),
#: not 两 or 参 (words of their own)
CJK_DIGITS = {
    char: str(value)
    for value, chars in enumerate(
        ("〇零", "一壹弌", "二贰弍", "三叁弎", "四肆", "五伍", "六陆", "七柒", "八捌", "九玖")
    )
    for char in chars
}

# the separation before a folded character (the strongest separator since the previous one)
NONE = 0  # adjacent, or only invisible characters between
JOIN = 1  # a word-joining sign: hyphens and dashes, / _ . ' ’ & +
SPACE = 2  # white space
SOFT = 3  # other punctuation and symbols, emoji
HARD = 4  # a sentence break: , ; : ! ? 。 、 and line breaks
_PERCENT = -1

_JOINERS = frozenset("/_.'’‘&+")
_BREAKS = frozenset(",;:!?。、\n\r\x0b\x0c\x85\u2028\u2029")
_LONG_VOWEL = frozenset("ー")  # katakana long-vowel mark, used as a dash


def _separator_class(part: str) -> int:
    """The class of one NFKC character that is not a letter or digit (NONE: invisible)."""
    if part in _BREAKS:
        return HARD
    category = unicodedata.category(part)
    if category in ("Cf", "Mn", "Me"):
        return NONE
    if part in _JOINERS or category == "Pd":
        return JOIN
    if part.isspace() or category[0] == "Z":
        return SPACE
    return SOFT


def _is_separator(part: str) -> bool:
    return part in _LONG_VOWEL or unicodedata.category(part)[0] in "PSZCM"


@lru_cache(maxsize=100_000)
def classify(char: str) -> tuple[str, tuple[bool, ...], int]:
    """``(folded, latin, separation)`` of one source character: its folded characters, each with
    whether it is Latin (an ASCII letter or digit not read from a Chinese numeral), or no
    characters and the class of separator it is."""
    parts: list[str] = []
    latin: list[bool] = []
    separation = NONE
    for part in unicodedata.normalize("NFKC", char):
        if _is_separator(part):
            separation = _PERCENT if part == "%" else max(separation, _separator_class(part))
            continue
        if _is_han(part):
            part = _t2s(part)
        if part in CJK_DIGITS:
            parts.append(CJK_DIGITS[part])
            latin.append(False)
        elif unicodedata.category(part)[0] == "N" and not part.isascii():
            value = unicodedata.numeric(part, None)
            if value is not None and value >= 0 and value == int(value):
                parts.extend(str(int(value)))
                latin.extend(True for _ in str(int(value)))
            else:
                parts.append(part)
                latin.append(False)
        else:
            for c in part.casefold():
                parts.append(c)
                latin.append(c.isascii() and c.isalnum())
    if parts:
        return "".join(parts), tuple(latin), NONE  # signs inside one character (the brackets of ⑴) are not separators
    return "", (), separation


@dataclass
class Folded:
    """The folded text: ``text[k]`` was read from ``source[where[k]]``; ``gaps[k]``: what separated
    it from ``text[k - 1]`` (NONE, JOIN, SPACE, SOFT, HARD); ``latin[k]``: an ASCII letter or digit
    of Latin text (not a digit read from a Chinese numeral)."""

    text: str
    where: list[int]
    gaps: list[int]
    latin: list[bool]


def fold_text(text: str) -> Folded:
    """One pass over ``text``, a cached lookup per character (plus the few rules that look at the
    neighbours: ``%`` after a digit, a thousands comma, a zero for the letter o)."""
    chars: list[str] = []
    where: list[int] = []
    gaps: list[int] = []
    latin: list[bool] = []
    add_char, add_where, add_gap, add_latin = chars.append, where.append, gaps.append, latin.append
    pending = NONE
    text = text or ""
    for index, (folded, is_latin, separation) in enumerate(map(classify, text)):
        if folded:
            if len(folded) == 1:
                add_char(folded)
                add_where(index)
                add_latin(is_latin[0])
                add_gap(pending)
            else:
                chars.extend(folded)
                where.extend([index] * len(folded))
                latin.extend(is_latin)
                add_gap(pending)
                gaps.extend([NONE] * (len(folded) - 1))
            pending = NONE
            continue
        if separation == _PERCENT:
            if chars and chars[-1].isdigit() and pending <= SOFT:
                add_char("%")
                add_where(index)
                add_latin(False)
                add_gap(pending)
                pending = NONE
                continue
            separation = SOFT
        elif (
            text[index] == ","
            and pending == NONE
            and latin
            and latin[-1]
            and chars[-1].isdigit()
            and text[index + 1 : index + 2].isdigit()
        ):
            separation = JOIN  # a thousands separator: 1,100% is one number
        if separation > pending:
            pending = separation
    joined = "".join(chars)
    k, changed = joined.find("0", 1), False
    while k != -1:
        # N0.1, T0P1: a zero written for the letter o
        if (
            latin[k]
            and gaps[k] == NONE
            and latin[k - 1]
            and chars[k - 1].isalpha()
            and not (k + 1 < len(chars) and gaps[k + 1] == NONE and latin[k + 1] and chars[k + 1].isdigit())
        ):
            chars[k], changed = "o", True
        k = joined.find("0", k + 1)
    return Folded("".join(chars) if changed else joined, where, gaps, latin)


def fold(text: str) -> tuple[str, list[int]]:
    """``(folded text, source index of every folded character)``."""
    folded = fold_text(text)
    return folded.text, folded.where


def _fits(folded: Folded, i: int, j: int, strict: bool = True) -> bool:
    """Whether ``folded.text[i:j]`` is one term of the source: Latin edges at word edges, no
    Latin letters or digits glued across a sentence break or across words, and (``strict``, for
    terms) no two CJK words joined across punctuation (``独特，效果`` is not ``特效``)."""
    text, gaps, latin = folded.text, folded.gaps, folded.latin
    if latin[i] and i > 0 and latin[i - 1] and gaps[i] <= JOIN:
        return False
    if latin[j - 1] and j < len(text) and latin[j] and gaps[j] <= JOIN:
        return False
    last = len(text) - 1
    for k in range(i + 1, j):
        gap = gaps[k]
        if gap == NONE:
            continue
        if not (latin[k - 1] and latin[k]):
            # CJK: across any separator, but across a sentence break only when one side of it is
            # a single character (国，家，级), never between two words (风味独特，效果好)
            if strict and gap == HARD and not (k == 1 or gaps[k - 1] != NONE or k == last or gaps[k + 1] != NONE):
                return False
            continue
        if gap == HARD:
            return False
        if text[k - 1].isdigit() == text[k].isdigit():
            # two letters (two digits) across a separator: only when spelt out one by one
            alone_before = k - 1 == i or gaps[k - 1] != NONE or not latin[k - 2]
            alone_after = k + 1 == j or gaps[k + 1] != NONE or not latin[k + 1]
            if not (alone_before and alone_after):
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
    end: int  # exclusive
    text: str  # the original characters, as written

    @property
    def term(self) -> str:
        return self.rule.term


class Matcher:
    def __init__(self, rules, statements=()):
        """``rules``: :class:`TermRule`; ``statements``: the texts of the mandatory statements."""
        index: dict[str, list[tuple[str, TermRule]]] = {}
        for rule in rules:
            if rule.key:
                index.setdefault(rule.key[0], []).append((rule.key, rule))
        for candidates in index.values():
            candidates.sort(key=lambda candidate: -len(candidate[0]))
        self._terms = index
        # where a term may start: one scan in C instead of a look-up per character
        self._starts = re.compile("[" + "".join(re.escape(c) for c in sorted(index)) + "]") if index else None
        keys = {fold(text)[0] for text in statements}
        self._statements = sorted((key for key in keys if key), key=len, reverse=True)

    def _statement_ends(self, folded: Folded) -> list[int] | None:
        """For each folded position, the end of the mandatory statement around it (0: none);
        None when the text has no statement."""
        text, ends = folded.text, None
        for key in self._statements:  # longest first: a shorter one inside a longer one adds nothing
            i = text.find(key)
            while i != -1:
                j = i + len(key)
                if (ends is None or not (ends[i] or ends[j - 1])) and _fits(folded, i, j, strict=False):
                    if ends is None:
                        ends = [0] * len(text)
                    ends[i:j] = [j] * (j - i)
                i = text.find(key, i + 1)
        return ends

    def statements(self, text: str) -> list[tuple[int, int]]:
        """The ``(start, end)`` of every mandatory statement in ``text`` (original indices)."""
        folded = fold_text(text)
        ends = self._statement_ends(folded) if self._statements else None
        spans, i = [], 0
        while ends is not None and i < len(ends):
            if ends[i]:
                spans.append((folded.where[i], folded.where[ends[i] - 1] + 1))
                i = ends[i]
            else:
                i += 1
        return spans

    def find(self, text: str) -> list[Match]:
        """Every term in ``text``, in order; terms inside a longer match or inside a mandatory
        statement are left out."""
        if not text or self._starts is None:
            return []
        folded = fold_text(text)
        chars, where, terms = folded.text, folded.where, self._terms
        ends = self._statement_ends(folded) if self._statements else None
        found, reach = [], 0
        for start_match in self._starts.finditer(chars):
            i = start_match.start()
            for key, rule in terms[chars[i]]:
                if not chars.startswith(key, i):
                    continue
                j = i + len(key)
                if not _fits(folded, i, j):
                    continue
                if ends is not None and ends[i] >= j:
                    break  # part of a mandatory statement
                if j > reach:  # not inside an earlier, longer match
                    start, end = where[i], where[j - 1] + 1
                    found.append(Match(rule, start, end, text[start:end]))
                    reach = j
                break  # the longest term starting here
        return found


def build(terms, statements=()) -> Matcher:
    """``terms``: :class:`~mallow.compliance.terms.Term` rows (keyed here from their text, so a key
    stored by an older folding never matters); ``statements``: their texts."""
    return Matcher(
        [
            TermRule(t.term, fold(t.term)[0], t.kind, t.action, frozenset(t.block_categories or ()), t.reason or "")
            for t in terms
        ],
        [getattr(s, "text", s) for s in statements],
    )
