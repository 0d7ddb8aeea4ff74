"""Small text tools shared across the packages: sentences, words, stems, number words.

The one copy of each routine that more than one package needs (ingestion, escalation,
avatar_bridge and the app import it); it imports none of them.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_OPEN_AT_END = re.compile(r"([A-Za-z0-9.]*)\.$")

NEVER_FINAL = frozenset(
    {
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "e.g",
        "eg",
        "i.e",
        "ie",
        "vs",
        "cf",
        "approx",
        "incl",
        "esp",
        "fig",
        "viz",
        "ca",
        "tel",
        "ext",
    }
)
"""Words after which a full stop never ends a sentence (titles before a name, Latin and
mid-sentence abbreviations), lower case, without their last full stop. Words like "etc."
end one when a capital follows."""
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MARKDOWN_INLINE = re.compile(r"(\*\*|__|\*|_|`)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.MULTILINE)

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "mustn't",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "when's",
        "where",
        "where's",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "why",
        "why's",
        "will",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "ok",
        "okay",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "um",
        "uh",
        "er",
        "like",
        "just",
        "really",
        "actually",
        "also",
        "still",
        "get",
        "got",
        "going",
        "go",
        "know",
        "want",
        "wondering",
        "wonder",
        "tell",
        "say",
        "said",
        "bit",
        "lot",
        "lots",
        "much",
        "many",
        "thing",
        "things",
        "way",
        "normal",
        "okay",
        "alright",
        "anything",
        "something",
        "someone",
        "anyone",
        "need",
        "needs",
        "dear",
        "doc",
        "doctor",
        "nurse",
        "husband",
        "wife",
        "partner",
        "dad",
        "father",
        "mum",
        "mother",
        "son",
        "daughter",
        "he's",
        "his",
        "him",
        "my",
        "me",
        "i'm",
        "i've",
        "question",
        "ask",
        "asking",
        "worried",
        "worry",
        "concerned",
        "scared",
        "sure",
        "think",
        "feel",
    ]
)


NUMBER_UNITS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
"""Number words below twenty and their values: the one table every reader of numbers uses."""
NUMBER_TENS: dict[str, int] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
COUNT_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    **{word: value for word, value in NUMBER_UNITS.items() if 1 <= value <= 12},
    "few": 3,
    "a few": 3,
    "couple": 2,
    "a couple of": 2,
    "couple of": 2,
    "several": 4,
    "many": 5,
    "some": 2,
}
"""How many a duration's count stands for when said in words ("a few days", "two weeks")."""


def word_set(text: str) -> frozenset[str]:
    """The words of a space-separated list, for writing word tables compactly."""
    return frozenset(text.split())


def count_word(word: str) -> float | None:
    """A duration's count said in words ("three", "a few", "a couple of"), or None."""
    value = COUNT_WORDS.get(word.lower())
    return None if value is None else float(value)


def clean_inline_markdown(text: str) -> str:
    """Plain text out of a Markdown paragraph: links, emphasis and list markers removed."""
    text = _LINK.sub(r"\1", text)
    text = _MARKDOWN_INLINE.sub(r"\2", text)
    return _LIST_MARKER.sub("", text)


def leaves_sentence_open(word: str) -> bool:
    """Whether a full stop right after ``word`` leaves the sentence open: an abbreviation
    ("e.g", "Dr", "approx") or an initial ("J. Smith"). The one boundary rule every sentence
    splitter follows."""
    return word.lower() in NEVER_FINAL or (len(word) == 1 and word.isupper())


def split_sentences(text: str) -> list[str]:
    """Sentences of clean prose. Abbreviations, initials and decimals are not boundaries."""
    pieces: list[str] = []
    for part in _SENTENCE_END.split(text):
        last = _OPEN_AT_END.search(pieces[-1].rstrip()) if pieces else None
        if last is not None and leaves_sentence_open(last[1]):
            pieces[-1] = f"{pieces[-1]} {part}"
        else:
            pieces.append(part)
    return [joined for joined in (" ".join(p.split()) for p in pieces) if joined]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'leaking' with 'leakage' and 'tests' with 'test'."""
    for suffix in (
        "ational",
        "ations",
        "ation",
        "ated",
        "ements",
        "ement",
        "ments",
        "ment",
        "ings",
        "ing",
        "ages",
        "age",
        "edly",
        "ies",
        "ied",
        "ness",
        "ers",
        "er",
        "ed",
        "es",
        "ly",
        "s",
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("i") and len(word) > 3:
        word = word[:-1] + "y"
    return word


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order, without repeats."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w in STOPWORDS or len(w) < 2:
            continue
        seen.setdefault(stem(w.replace("'", "")), None)
    return list(seen)
