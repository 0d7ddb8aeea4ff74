"""Normalisation: the utterance as lower-case words the rules and intents read. Pure.

Contractions are expanded, slips fixed, fillers dropped, numbers said in words written in
figures (from ten up, and decimals), and punctuation reduced to " , " and " . " (a final
question mark stays "?").
"""

from __future__ import annotations

import re

from escalation.triage.spelling import (
    BARE_CONTRACTIONS,
    CONTRACTIONS,
    FILLERS,
    SLIPS,
    untransposed,
)
from ingestion.text import NUMBER_TENS, NUMBER_UNITS

# "Oh" is a digit when numbers are spoken ("thirty eight point oh").
_UNITS = {**NUMBER_UNITS, "oh": 0}
_TENS = NUMBER_TENS

_RAW_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|[.!?]+|[,;:()\u2013\u2014]|°| - ")


def _parse_number_words(tokens: list[str], i: int) -> tuple[float, int] | None:
    """A number said in words starting at ``tokens[i]``: (value, index after it)."""
    j = i
    total = 0.0
    current = 0
    seen = False
    if j + 1 < len(tokens) and tokens[j] == "a" and tokens[j + 1] == "hundred":
        current, j, seen = 100, j + 2, True
    last = "hundred" if seen else ""
    while j < len(tokens):
        tok = tokens[j]
        if tok in _TENS and last in ("", "hundred", "and"):
            current += _TENS[tok]
            last = "tens"
        elif tok in _UNITS and tok != "oh" and last in ("", "hundred", "and", "tens"):
            current += _UNITS[tok]
            last = "unit"
        elif tok == "hundred" and last in ("unit", ""):
            current = (current or 1) * 100
            last = "hundred"
        elif (
            tok == "and"
            and last == "hundred"
            and j + 1 < len(tokens)
            and (tokens[j + 1] in _UNITS or tokens[j + 1] in _TENS)
        ):
            last = "and"
        else:
            break
        seen = True
        j += 1
    if not seen:
        return None
    total = float(current)
    if j + 1 < len(tokens) and tokens[j] == "point":
        digits = ""
        k = j + 1
        while k < len(tokens) and (tokens[k] in _UNITS and _UNITS[tokens[k]] < 10):
            digits += str(_UNITS[tokens[k]])
            k += 1
        while k < len(tokens) and tokens[k].isdigit() and not digits:
            digits = tokens[k]
            k += 1
        if digits:
            total = float(f"{current}.{digits}")
            j = k
    elif (
        j + 2 < len(tokens)
        and tokens[j] == "and"
        and tokens[j + 1] == "a"
        and tokens[j + 2] == "half"
    ):
        total += 0.5
        j += 3
    return total, j


def _numbers_in_words(tokens: list[str], bounds: list[int]) -> tuple[list[str], list[int]]:
    out: list[str] = []
    out_bounds: list[int] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok[0].isdigit() and i + 2 < len(tokens) and tokens[i + 1] == "point":
            nxt = tokens[i + 2]
            digit = str(_UNITS[nxt]) if nxt in _UNITS and _UNITS[nxt] < 10 else nxt
            if digit.isdigit() and "." not in tok:
                out.append(f"{tok}.{digit}")
                out_bounds.append(bounds[i])
                i += 3
                continue
        parsed = _parse_number_words(tokens, i)
        if parsed is not None:
            value, end = parsed
            # Small whole numbers stay words: rules read "one calf", "two days" as words.
            if value >= 10 or value != int(value):
                out.append(f"{value:g}")
                out_bounds.append(bounds[i])
                i = end
                continue
        out.append(tok)
        out_bounds.append(bounds[i])
        i += 1
    return out, out_bounds


def _filler_you_know(text: str, _: str) -> bool:
    """'you know' as a spoken filler, not 'do you know' or 'you know what to do'."""
    return not re.search(r"\b(?:do|did|would|will|if|as) you know\b", text)


def tokenise(text: str) -> tuple[list[str], list[int]]:
    """Lower-case word tokens and, for each, the punctuation before it (0 none, 1 comma, 2 stop)."""
    s = text.lower()
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    s = s.replace("\u201c", " ").replace("\u201d", " ")
    s = re.sub(r"(\d),(\d{1,2})\b", r"\1.\2", s)
    s = re.sub(r"(\d),(\d{3})\b", r"\1\2", s)
    for pattern, replacement in CONTRACTIONS:
        s = re.sub(pattern, replacement, s)
    s = s.replace("'", " ")
    tokens: list[str] = []
    bounds: list[int] = []
    pending = 0
    for raw in _RAW_TOKEN.findall(s):
        if raw[0] in ".!?":
            pending = 2
            continue
        if raw.strip() in {",", ";", ":", "(", ")", "\u2013", "\u2014", "-"}:
            pending = max(pending, 1)
            continue
        words = [raw]
        if raw == "°":
            words = ["degrees"]
        elif raw in BARE_CONTRACTIONS:
            words = BARE_CONTRACTIONS[raw].split()
        elif raw in SLIPS:
            words = SLIPS[raw].split()
        elif raw.isalpha():
            words = [untransposed(raw)]
        if raw in FILLERS:
            continue
        if raw == "know" and tokens and tokens[-1] == "you" and _filler_you_know(s, raw):
            tokens.pop()
            bounds.pop()
            continue
        for word in words:
            tokens.append(word)
            bounds.append(pending)
            pending = 0
    return _numbers_in_words(tokens, bounds)


def joined(tokens: list[str], bounds: list[int], question_mark: bool) -> list[str]:
    """The tokens with their punctuation as words: "," and "." between, "?" or "." at the end."""
    out: list[str] = []
    for tok, bound in zip(tokens, bounds, strict=False):
        if bound and out:
            out.append("," if bound == 1 else ".")
        out.append(tok)
    if out:
        out.append("?" if question_mark else ".")
    return out


def normalise(text: str) -> str:
    """Lower case, contractions expanded, slips fixed, numbers in figures, punctuation as ', .'.

    Sentence ends become " . ", other punctuation " , "; a final question mark stays "?".
    """
    tokens, bounds = tokenise(text)
    return " ".join(joined(tokens, bounds, text.rstrip().endswith("?")))
