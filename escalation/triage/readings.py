"""Readings: temperatures and durations said in an utterance, as numbers. Pure.

A temperature counts when the sentence is about one (a unit, "degrees", or a word such as
"temperature") and not about the weather; Fahrenheit is converted, and "over 38" is kept as
a comparison, not a measurement. A duration is the longest one the utterance mentions, in
hours ("two days", "since yesterday", "all night").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestion.text import COUNT_WORDS, word_set


@dataclass(frozen=True)
class Temperature:
    """A temperature said in the utterance."""

    celsius: float
    comparator: bool
    index: int
    phrase: str


_TEMP_WORDS = frozenset(
    {"temperature", "fever", "feverish", "thermometer", "degrees", "degree", "reading"}
)
_NOT_TEMPERATURE = word_set(
    "hours hour days day minutes mins weeks week am pm oclock kg kilos kilograms "
    "pounds lbs lb ml mg years year times percent ng mls litres liters glasses cups "
    "stone miles steps beats bpm months month nights night pads seconds"
)
_WEATHER = word_set("outside weather room bath shower heatwave sun sunny oven water house bedroom")
_UP = word_set(
    "over above than least exceeds exceeding hits hit reaches reached past beyond higher more"
)
_DOWN = frozenset({"below", "under", "lower", "less", "beneath"})
_OR_MORE = frozenset({("more",), ("above",), ("higher",), ("over",)})


def temperatures(tokens: tuple[str, ...]) -> tuple[Temperature, ...]:
    """Every temperature the normalised tokens state, in Celsius."""
    found: list[Temperature] = []
    sentence_start = 0
    for i, tok in enumerate(tokens):
        if tok in (".", "?"):
            sentence_start = i + 1
            continue
        if not tok[0].isdigit():
            continue
        end = i + 1
        while end < len(tokens) and tokens[end] in (".", "?", ","):
            end += 1
        nxt = tokens[i + 1 : i + 3]
        if nxt and nxt[0] in _NOT_TEMPERATURE:
            continue
        j = i + 1
        degrees = False
        if j < len(tokens) and tokens[j] in ("degrees", "degree"):
            degrees, j = True, j + 1
        unit = ""
        if j < len(tokens) and tokens[j] in ("c", "celsius"):
            unit, j = "c", j + 1
        elif j < len(tokens) and tokens[j] in ("f", "fahrenheit"):
            unit, j = "f", j + 1
        sentence_end = next(
            (k for k in range(i, len(tokens)) if tokens[k] in (".", "?")), len(tokens)
        )
        sentence = set(tokens[sentence_start:sentence_end])
        if not (unit or degrees or sentence & _TEMP_WORDS) or sentence & _WEATHER:
            continue
        value = float(tok)
        if unit == "f" or (not unit and 93 <= value <= 110):
            if not 90 <= value <= 115:
                continue
            celsius = (value - 32) * 5 / 9
        elif 33 <= value <= 44:
            celsius = value
        else:
            continue
        before = tokens[max(0, i - 2) : i]
        after = tokens[j : j + 2]
        comparator = False
        if set(before) & _UP or (after[:1] == ("or",) and after[1:] in _OR_MORE):
            comparator, celsius = True, celsius + 0.05
        elif set(before) & _DOWN:
            comparator, celsius = True, celsius - 0.05
        found.append(Temperature(round(celsius, 2), comparator, i, " ".join(tokens[i:j])))
    return tuple(found)


_UNIT_HOURS = {
    "minute": 1 / 60,
    "min": 1 / 60,
    "hour": 1.0,
    "hr": 1.0,
    "day": 24.0,
    "night": 24.0,
    "week": 168.0,
}
_SINCE_HOURS = {
    "yesterday": 24.0,
    "last night": 10.0,
    "this morning": 6.0,
    "the morning": 6.0,
    "lunch": 5.0,
    "lunchtime": 5.0,
    "midday": 5.0,
    "noon": 5.0,
    "breakfast": 6.0,
    "dinner": 4.0,
    "tea": 4.0,
    "teatime": 4.0,
    "supper": 4.0,
    "this afternoon": 3.0,
    "this evening": 2.0,
    "monday": 48.0,
    "tuesday": 48.0,
    "wednesday": 48.0,
    "thursday": 48.0,
    "friday": 48.0,
    "saturday": 48.0,
    "sunday": 48.0,
    "the weekend": 48.0,
    "last week": 168.0,
}
_DURATION = re.compile(
    r"\b(?P<num>\d+(?:\.\d+)?|a couple of|couple of|a few|an|a|one|two|three|four|five|six"
    r"|seven|eight|nine|ten|eleven|twelve|few|couple|several|many|some)"
    r" (?:more |whole |full |good )?(?P<unit>minute|min|hour|hr|day|night|week)s?\b"
    r"(?! (?:after|post|since|from) (?:the |my |his )?(?:surgery|operation|op|prostatectomy))"
)
_SINCE = re.compile(
    r"\bsince (?P<when>" + "|".join(sorted(_SINCE_HOURS, key=len, reverse=True)) + r")\b"
)
_FIXED_SPANS = {
    "all day": 24.0,
    "the whole day": 24.0,
    "all night": 10.0,
    "overnight": 10.0,
    "all morning": 4.0,
    "all afternoon": 4.0,
    "all evening": 4.0,
    "for hours": 3.0,
    "for days": 48.0,
    "for weeks": 336.0,
    "this morning": 6.0,
    "since last night": 10.0,
}
_FIXED = re.compile(r"\b(?:" + "|".join(sorted(_FIXED_SPANS, key=len, reverse=True)) + r")\b")


def hours_said(text: str) -> float | None:
    """The longest duration the utterance mentions, in hours; None when it gives none."""
    found: list[float] = []
    for m in _DURATION.finditer(text):
        num = m["num"]
        count = float(num) if num[0].isdigit() else float(COUNT_WORDS[num])
        found.append(count * _UNIT_HOURS[m["unit"]])
    found.extend(_SINCE_HOURS[m["when"]] for m in _SINCE.finditer(text))
    found.extend(_FIXED_SPANS[m[0]] for m in _FIXED.finditer(text))
    return max(found) if found else None
