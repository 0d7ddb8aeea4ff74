"""Dates of birth as callers say them: "fourth of March fifty-two", "4/3/52",
"March 4th 1952", "nineteen fifty-two", read in the clinic's date order."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

DateOrder = Literal["DMY", "MDY", "YMD"]

MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17,
    "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_NUMERIC = re.compile(r"\b(\d{1,4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2,4})\b")
_FILLER = {"the", "of", "on", "and", "a", "in", "born", "year", "hundred"}


def parse_spoken_date(text: str, order: DateOrder, today: date) -> date | None:
    """The date said in ``text``, or None when it holds no complete, real date."""
    lowered = text.lower()
    numeric = _NUMERIC.search(lowered)
    if numeric:
        return _numeric(numeric.groups(), order, today)
    words = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", lowered)
    tokens = [t for t in re.split(r"[^a-z0-9]+", words.replace("-", " ")) if t]
    month_at = next((i for i, t in enumerate(tokens) if t in MONTHS), None)
    if month_at is None:
        return None
    month = MONTHS[tokens[month_at]]
    before = [t for t in tokens[:month_at] if t not in _FILLER]
    after = [t for t in tokens[month_at + 1 :] if t not in _FILLER]
    day, _ = _day(before[-3:]) if before else (None, [])
    if day is None:
        day, used = _leading_day(after)
        after = after[used:]
    year = _year(after, today)
    if day is None or year is None:
        return None
    return _real(year, month, day)


def _numeric(parts: tuple[str, ...], order: DateOrder, today: date) -> date | None:
    a, b, c = parts
    if len(a) == 4:
        year_text, month, day = a, int(b), int(c)
    elif order == "MDY":
        month, day, year_text = int(a), int(b), c
    else:
        day, month, year_text = int(a), int(b), c
    year = int(year_text) if len(year_text) == 4 else _century(int(year_text), today)
    return _real(year, month, day)


def _day(tokens: list[str]) -> tuple[int | None, list[str]]:
    """A day said before the month ("fourth", "twenty first", "4")."""
    if not tokens:
        return None, []
    last = tokens[-1]
    if last.isdigit() and 1 <= int(last) <= 31:
        return int(last), tokens[:-1]
    if last in ORDINALS:
        value = ORDINALS[last]
        if len(tokens) >= 2 and tokens[-2] in TENS and value < 10:
            return TENS[tokens[-2]] + value, tokens[:-2]
        return value, tokens[:-1]
    if last in UNITS or last in TENS:
        value = UNITS.get(last, TENS.get(last, 0))
        if len(tokens) >= 2 and tokens[-2] in TENS and value < 10:
            value += TENS[tokens[-2]]
        return (value, tokens[:-1]) if 1 <= value <= 31 else (None, tokens)
    return None, tokens


def _leading_day(tokens: list[str]) -> tuple[int | None, int]:
    """A day said after the month ("March fourth", "March 4")."""
    if not tokens:
        return None, 0
    first = tokens[0]
    if first.isdigit() and len(first) <= 2 and 1 <= int(first) <= 31:
        return int(first), 1
    if first in TENS and len(tokens) > 1 and tokens[1] in ORDINALS and ORDINALS[tokens[1]] < 10:
        return TENS[first] + ORDINALS[tokens[1]], 2
    if first in ORDINALS:
        return ORDINALS[first], 1
    return None, 0


def _year(tokens: list[str], today: date) -> int | None:
    """ "1952", "52", "fifty two", "nineteen fifty two", "nineteen oh five"."""
    if not tokens:
        return None
    if tokens[0].isdigit():
        value = int(tokens[0])
        if len(tokens[0]) == 4:
            return value
        return _century(value, today) if len(tokens[0]) == 2 else None
    groups: list[int] = []
    current: int | None = None
    for token in tokens:
        if token in TENS:
            if current is not None:
                groups.append(current)
            current = TENS[token]
        elif token in UNITS:
            unit = UNITS[token]
            if current is not None and current % 10 == 0 and current >= 20 and unit < 10:
                groups.append(current + unit)
                current = None
            elif token == "oh" and current is None:
                current = 0
            elif current == 0 and unit < 10:
                groups.append(unit)
                current = None
            else:
                if current is not None:
                    groups.append(current)
                current = unit
        else:
            break
    if current is not None:
        groups.append(current)
    if len(groups) == 1 and groups[0] < 100:
        return _century(groups[0], today)
    if len(groups) == 2 and groups[0] in (19, 20) and groups[1] < 100:
        return groups[0] * 100 + groups[1]
    return None


def _century(two_digits: int, today: date) -> int:
    """A two-digit year of birth: the most recent one that makes an adult."""
    year = 2000 + two_digits
    return year if year <= today.year - 16 else 1900 + two_digits


def _real(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
