"""Spoken form: answer text turned into what a voice should say.

A text-to-speech voice reads what it is given: "**Call**" becomes "asterisk asterisk call",
"10 lb" becomes "ten l b", "7-10 days" becomes "seven minus ten days". :func:`spoken_form`
removes the markdown, says numbers, units, ranges and abbreviations the way people say
them, and breaks very long sentences into shorter ones, without changing what the text
means. Phone numbers, web addresses and e-mail addresses pass through untouched, and
acronyms (PSA, GP, DVT) keep their capitals so the voice spells them.

The work is shared out: ``speech_markdown`` makes markdown plain, ``speech_words`` says
words, numbers and units; this module protects spans and shortens long sentences.
:func:`avatar_bridge.spoken_time.spoken_datetime` says an appointment time.
"""

from __future__ import annotations

import re

from avatar_bridge.sentences import split_sentences
from avatar_bridge.speech_markdown import (
    capitalise,
    has_word,
    looks_like_markdown,
    plain_from_markdown,
    starts_with_marker,
    unwrap_links,
)
from avatar_bridge.speech_words import clear_marks, expand_shorthand, say_words, tidy_punctuation

__all__ = ["MAX_SENTENCE_WORDS", "spoken_form"]

MAX_SENTENCE_WORDS = 30
_MARKUP_PASSES = 4
_MIN_PART_WORDS = 6
_DIGIT = re.compile(r"\d")

# --- protected spans -----------------------------------------------------------------

_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"*_`]"
    r"|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"
)
# Patterns start with a plain character class (what comes before is checked by a lookbehind
# after the first digit, or by the callback) so that the regex engine can skip ahead fast.
_DIGIT_GROUPS = r"\d{2,}(?:[ \u00a0-]\d{2,})*(?!\d|[.,]\d)"
_PHONE = re.compile(
    r"\+\d{1,3}[ \u00a0-]?(?:\(\d{2,6}\)[ \u00a0-]?)?"
    + _DIGIT_GROUPS
    + r"|\(\d{2,6}\)[ \u00a0-]?"
    + _DIGIT_GROUPS
    + "|"
    + _DIGIT_GROUPS
)
_TWO_GROUPS = re.compile(r"([1-9]\d{0,2})-([1-9]\d{0,2})")

# --- long sentences ------------------------------------------------------------------

_NAIVE_SENTENCE_END = re.compile(r"[.!?]\s")
_SPLIT_CONJUNCTIONS = frozenset({"and", "but"})


class _Vault:
    """Spans no rule may touch (phone numbers, addresses), swapped out for placeholders."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def keep(self, text: str) -> str:
        if len(self.items) >= 0x1900:
            return text
        self.items.append(text)
        return chr(0xE000 + len(self.items) - 1)

    def restore(self, text: str) -> str:
        if not self.items:
            return text
        return _PRIVATE_USE.sub(lambda m: self.items[ord(m.group()) - 0xE000], text)


def spoken_form(text: str) -> str:
    """What a voice should say for ``text``: plain sentences, everything said in words.

    Pure and idempotent: ``spoken_form(spoken_form(x)) == spoken_form(x)``.
    """
    return _spoken(text, 0)


def _spoken(text: str, depth: int) -> str:
    if text and max(text) >= "\ue000":
        text = _PRIVATE_USE.sub("", text)
    vault = _Vault()
    text = unwrap_links(text)
    if "://" in text or "www." in text or "@" in text:
        text = _URL.sub(lambda m: vault.keep(m.group()), text)
    for _ in range(_MARKUP_PASSES):
        # Removing one layer of markup can reveal another ("**# Title**"): repeat until
        # nothing changes, so that saying the result again finds nothing left to remove.
        before = text
        if looks_like_markdown(text):
            text = plain_from_markdown(text)
        text = clear_marks(text)
        if text == before:
            break
    if not text:
        return ""
    text = expand_shorthand(text)
    if _DIGIT.search(text):
        text = _PHONE.sub(lambda m: _keep_phone(m, vault), text)
    text = say_words(text)
    text = tidy_punctuation(text)
    text = _shorten_long_sentences(text)
    text = vault.restore(text)
    if depth < _MARKUP_PASSES and _starts_with_markup(text):
        # What is left starts like a list item ("10." from a line of its own); said again
        # it would lose the marker, so lose it now.
        return _spoken(text, depth + 1)
    return text if has_word(text) else ""


def _starts_with_markup(text: str) -> bool:
    """Whether the markdown pass would find a list or quote marker at the start."""
    if "://" in text or "www." in text or "@" in text:
        text = _URL.sub("\ue000", text)
    return starts_with_marker(text) and looks_like_markdown(text)


def _keep_phone(m: re.Match[str], vault: _Vault) -> str:
    number = m.group()
    before = m.string[m.start() - 1 : m.start()]
    if before and (before.isalnum() or before in "_.+"):
        return number
    digits = sum(ch.isdigit() for ch in number)
    if digits < 6 and not number.startswith(("+", "(")):
        return number
    if _TWO_GROUPS.fullmatch(number):
        return number  # "100-150": a range, said as one
    if " " not in number and "-" not in number and not number.startswith(("0", "+", "(")):
        return number  # a plain large number
    return vault.keep(number)


# --- long sentences ------------------------------------------------------------------


def _shorten_long_sentences(text: str) -> str:
    # Cutting at every full stop over-cuts, so when no piece is long no sentence is.
    if all(piece.count(" ") < MAX_SENTENCE_WORDS for piece in _NAIVE_SENTENCE_END.split(text)):
        return text
    parts: list[str] = []
    for sentence in split_sentences(text):
        parts.extend(_shorten(sentence.split()))
    return " ".join(parts)


def _shorten(words: list[str]) -> list[str]:
    if len(words) <= MAX_SENTENCE_WORDS:
        return [" ".join(words)]
    for cut in _cuts(words):
        left = words[: cut + 1]
        right = words[cut + 1 :]
        left[-1] = left[-1][:-1] + "."
        right[0] = capitalise(right[0])
        # The new full stop must read as one to the sentence splitter too ("vitamin D."
        # would not), or a second pass would see a different sentence.
        if len(split_sentences(f"{left[-1]} {right[0]}")) == 2:
            return _shorten(left) + _shorten(right)
    return [" ".join(words)]


def _cuts(words: list[str]) -> list[int]:
    """Indexes of words after which the sentence can safely end, nearest the middle first."""
    cuts: list[int] = []
    depth = 0
    quoted = False
    last_comma = -1
    for i, word in enumerate(words[:-1]):
        depth += word.count("(") + word.count("[") - word.count(")") - word.count("]")
        quoted ^= (word.count('"') + word.count("“") + word.count("”")) % 2 == 1
        if depth or quoted:
            continue
        safe = False
        if word.endswith(";"):
            safe = True
        elif word.endswith(",") and words[i + 1].lower() in _SPLIT_CONJUNCTIONS:
            # A clause, not the end of a list: several words on both sides of the comma.
            clause_after = 0
            for w in words[i + 1 :]:
                clause_after += 1
                if w.endswith((",", ";")):
                    break
            safe = i - last_comma >= 5 and clause_after >= 5
        if word.endswith(","):
            last_comma = i
        if safe and i + 1 >= _MIN_PART_WORDS and len(words) - i - 1 >= _MIN_PART_WORDS:
            cuts.append(i)
    middle = len(words) / 2
    return sorted(cuts, key=lambda i: abs(i + 1 - middle))
