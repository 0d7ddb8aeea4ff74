"""Words, numbers and units said the way people say them: "10 lb" as "10 pounds",
"7-10 days" as "7 to 10 days", "e.g." as "for example", "3pm" as "3 p.m.", and the
punctuation tidied after markup is removed.

Part of :func:`avatar_bridge.speech.spoken_form`; pure functions of the text. Spans the
caller protects (phone numbers, addresses) arrive as private-use placeholders and are
left alone.
"""

from __future__ import annotations

import re

_STRAY_MARKS = re.compile(r"[*`]+|(?<![\w])_+|_+(?![\w])|(?:^|\s)#+(?=\s|$)")
_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
# A space before punctuation, or a comma left before a full stop.
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.;:!?)\]])")
_LOOSE_SPACES = (" ,", " .", " ;", " :", " !", " ?", " )", " ]")
_COMMA_BEFORE_STOP = re.compile(r"[,;:] ?(?=[.!?])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
_PIPES = re.compile(r"\s*\|+\s*")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")

_TWENTY_FOUR_SEVEN = re.compile(r"(?<![\d.,])24\s?/\s?7(?![\d/]|[.,]\d)")
_AMPERSAND = re.compile(r"\s*&(?:amp;)?\s*")
_ABOUT = re.compile(r"(?:~|≈|\bca\.|\bc\.)\s?(?=\d)")
_COMPARE = re.compile(r"(?<![<>=\w])(<=|>=|≤|≥|<|>)\s?(?=\d)")
_TIMES = re.compile(r"(\d(?<![\w.]\d)\d*)\s?[x×](?=\s+(?:a|an|per|each|every|daily)\b)")
_WITH = re.compile(r"\bw/o\b|\bw/(?=\s)", re.IGNORECASE)
_EG = re.compile(r"\b([Ee])\.\s?[Gg]\.?(?![\w])|\b([Ee])g\.(?=\s)")
_IE = re.compile(r"\b([Ii])\.\s?[Ee]\.?(?![\w])")
_ETC = re.compile(r"\betc\b(?:\.(?!\w))?")
_APPROX = re.compile(r"\b([Aa])pprox\b\.?(?=\s)")
_VERSUS = re.compile(r"\b([Vv])s\b\.?(?=\s)")
_DOCTOR = re.compile(r"\bDr\b\.?(?=\s+[A-Z])")
_CLOCK = re.compile(r"\d(?<![\w.:]\d)\d?(?:[:.]([0-5]\d))?\s?(?:([AaPp])\.[Mm]\.|([AaPp])[Mm]\b)")
_CLOCK_RANGE = re.compile(r"(?<=\b[ap]m)\s?[-–—]\s?(?=\d)|(?<=\bmidday)\s?[-–—]\s?(?=\d)")
_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_NUMBER_REST = r"(?:\d{0,2}(?:,\d{3})+|\d*)(?:\.\d+)?"
_POINT_ZERO = re.compile(r"\d(?<![\w.,]\d)(?:\d{0,2}(?:,\d{3})+|\d*)(\.0+)(?!\d|\.\d|,\d)")
_UNIT = re.compile(
    r"\d(?<![\w.,]\d)" + _NUMBER_REST + r"\s?"
    r"(ng/m[lL]|fl\.?\s?oz|°\s?[CF]|º\s?[CF]|°|mcg|µg|mg|kg|lbs|lb|oz|mL|ml|L|cm|mm|km|%"
    r"|hrs|hr|h|mins|min|wks|wk|yrs|yr|secs|sec)"
    r"(?:/(day|d|hour|hr|h|week|wk|kg|min))?"
    r"(?![\w/°])"
)
_BARE_TEMPERATURE = re.compile(r"\d(?<![\w.,]\d)\d{1,2}(?:\.\d+)?\s?([CF])\b(?![\w'’])")
_RANGE = re.compile(
    r"\d(?<![\w.,\-–—/]\d)"
    + _NUMBER_REST
    + r"(\s?[-–—]\s?|\s+[-–—]\s+)"
    + _NUMBER
    + r"(?![\w\-–—/]|[.,]\d)"
)
_SLASH = re.compile("/")
_AND_OR = re.compile(r"\band/or\b")
_STANDALONE = re.compile(r"(?:hrs|hr|wks|wk|yrs|mins|ng/m[lL])\b")

_UNIT_WORDS: dict[str, tuple[str, str]] = {
    "ng/ml": ("nanogram per millilitre", "nanograms per millilitre"),
    "floz": ("fluid ounce", "fluid ounces"),
    "°c": ("degree", "degrees"),
    "°f": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "mcg": ("microgram", "micrograms"),
    "µg": ("microgram", "micrograms"),
    "mg": ("milligram", "milligrams"),
    "kg": ("kilogram", "kilograms"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("millilitre", "millilitres"),
    "l": ("litre", "litres"),
    "cm": ("centimetre", "centimetres"),
    "mm": ("millimetre", "millimetres"),
    "km": ("kilometre", "kilometres"),
    "%": ("percent", "percent"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "h": ("hour", "hours"),
    "mins": ("minute", "minutes"),
    "min": ("minute", "minutes"),
    "wks": ("week", "weeks"),
    "wk": ("week", "weeks"),
    "yrs": ("year", "years"),
    "yr": ("year", "years"),
    "secs": ("second", "seconds"),
    "sec": ("second", "seconds"),
}
_PER_WORDS = {
    "day": "day",
    "d": "day",
    "hour": "hour",
    "hr": "hour",
    "h": "hour",
    "week": "week",
    "wk": "week",
    "kg": "kilogram",
    "min": "minute",
}
_STANDALONE_WORDS = {
    "hrs": "hours",
    "hr": "hour",
    "wks": "weeks",
    "wk": "week",
    "yrs": "years",
    "mins": "minutes",
    "ng/ml": "nanograms per millilitre",
}

# --- words, numbers and units --------------------------------------------------------


def say_words(text: str) -> str:
    # Each rule runs only when a cheap look at the text says it may apply: an answer of a
    # few sentences then costs a handful of regex passes, not thirty.
    lower = text.lower()
    if "/" in text:
        if "w/" in lower:
            text = _WITH.sub(lambda m: "without" if m.group().lower() == "w/o" else "with", text)
        if "ng/m" in text:
            text = _STANDALONE.sub(_standalone, text)
        if "and/or" in text:
            text = _AND_OR.sub("and or", text)
        text = _SLASH.sub(_slash, text)
    if "~" in text or "≈" in text or "c." in text:
        text = _ABOUT.sub("about ", text)
    if "<" in text or ">" in text or "≤" in text or "≥" in text:
        text = _COMPARE.sub(lambda m: _COMPARE_WORDS[m.group(1)] + " ", text)
    if "x " in text or "× " in text:
        text = _TIMES.sub(r"\1 times", text)
    if "e.g" in lower or "e. g" in lower or "eg." in lower:
        text = _EG.sub(lambda m: _cased(m.group(1) or m.group(2), "for example"), text)
    if "i.e" in lower or "i. e" in lower:
        text = _IE.sub(lambda m: _cased(m.group(1), "that is"), text)
    if "etc" in text:
        text = _ETC.sub(_and_so_on, text)
    if "pprox" in text:
        text = _APPROX.sub(lambda m: _cased(m.group(1), "about"), text)
    if "vs" in lower:
        text = _VERSUS.sub(lambda m: _cased(m.group(1), "versus"), text)
    if "Dr" in text:
        text = _DOCTOR.sub("Doctor", text)
    if _DIGIT.search(text):
        text = _numbers(text)
    if "hr" in text or "wk" in text or "yr" in text or "mins" in text:
        text = _STANDALONE.sub(_standalone, text)
    if "/" in text:
        # Again, for slashes that only now stand between words ("e.g./x").
        text = _SLASH.sub(_slash, text)
    return text


def _numbers(text: str) -> str:
    lower = text.lower()
    if "m" in lower and ("am" in lower or "pm" in lower or "a.m" in lower or "p.m" in lower):
        text = _CLOCK.sub(_clock, text)
        if "-" in text or "–" in text or "—" in text:
            text = _CLOCK_RANGE.sub(" to ", text)
    text = _UNIT.sub(_unit, text)
    if "C" in text or "F" in text:
        text = _BARE_TEMPERATURE.sub(_bare_temperature, text)
    if "-" in text or "–" in text or "—" in text:
        text = _RANGE.sub(lambda m: f"{_before_group(m)} to {m.group(2)}", text)
    return text


_UNIT_ABBREVIATIONS = frozenset({"mg", "ml", "ng", "kg", "g", "mcg", "mmol", "km", "cm", "mm", "l"})


def _slash(m: re.Match[str]) -> str:
    """A slash between words is said "or"; fractions, dates and units keep theirs."""
    text, i = m.string, m.start()
    before = i - 1
    spaced_before = before >= 0 and text[before] == " "
    if spaced_before:
        before -= 1
    after = i + 1
    spaced_after = after < len(text) and text[after] == " "
    if spaced_after:
        after += 1
    if before < 0 or after >= len(text):
        return "/"
    left, right = text[before], text[after]
    if not (_is_word_char(left) and _is_word_char(right)):
        return "/"
    if (left.isdigit() and right.isdigit()) or (
        not (spaced_before and spaced_after) and (left.isdigit() or right.isdigit())
    ):
        return "/"
    start = before
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    if text[start : before + 1].lower() in _UNIT_ABBREVIATIONS:
        return "/"
    return " or "


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _standalone(m: re.Match[str]) -> str:
    if m.start() and _is_word_char(m.string[m.start() - 1]):
        return m.group()
    return _STANDALONE_WORDS[m.group().lower()]


_COMPARE_WORDS = {
    "<": "less than",
    ">": "more than",
    "<=": "at most",
    "≤": "at most",
    ">=": "at least",
    "≥": "at least",
}


def _cased(first: str, words: str) -> str:
    return words[0].upper() + words[1:] if first.isupper() else words


def _full_stop_doubles(m: re.Match[str]) -> bool:
    """True when an abbreviation's full stop also ends the sentence."""
    if not m.group().endswith("."):
        return False
    rest = m.string[m.end() :]
    stripped = rest.lstrip()
    return not stripped or (stripped != rest and stripped[0].isupper())


def _and_so_on(m: re.Match[str]) -> str:
    return "and so on." if _full_stop_doubles(m) else "and so on"


def _before_group(m: re.Match[str]) -> str:
    """The match up to its first group: the number before a separator or suffix."""
    return m.string[m.start() : m.start(1)]


def _clock(m: re.Match[str]) -> str:
    said_hour = m.group()[:2]
    hour = int(said_hour if said_hour.isdigit() else said_hour[0])
    minutes = m.group(1)
    half = (m.group(2) or m.group(3)).lower()
    if hour > 12 or hour == 0:
        return m.group()
    stop = "." if _full_stop_doubles(m) else ""
    if hour == 12 and (minutes is None or minutes == "00"):
        return ("midday" if half == "p" else "midnight") + stop
    said = str(hour) if minutes is None or minutes == "00" else f"{hour}:{minutes}"
    return f"{said} {half}m{stop}"


def _unit(m: re.Match[str]) -> str:
    number, unit, per = _before_group(m).rstrip(), m.group(1), m.group(2)
    key = _SPACES.sub("", unit).replace(".", "").replace("º", "°").lower()
    if unit == "L":
        key = "l"
    singular, plural = _UNIT_WORDS[key]
    said = f"{number} {singular if number == '1' else plural}"
    if per:
        said += f" per {_PER_WORDS[per]}"
    return said


def _bare_temperature(m: re.Match[str]) -> str:
    number, scale = _before_group(m).rstrip(), m.group(1)
    value = float(number)
    if scale == "C" and 30 <= value <= 45:
        return f"{number} degrees"
    if scale == "F" and 90 <= value <= 110:
        return f"{number} degrees Fahrenheit"
    return m.group()


def clear_marks(text: str) -> str:
    """Markup the markdown pass left (stray asterisks, pipes, empty brackets) goes first,
    so that the word rules see the words as they will finally stand."""
    if "&" in text:
        text = _AMPERSAND.sub(" and ", text)
    if "*" in text or "`" in text or "_" in text or "#" in text:
        text = _STRAY_MARKS.sub(lambda m: " " if m.group()[:1].isspace() else "", text)
    if "|" in text:
        text = _PIPES.sub(", ", text)
    if "(" in text or "[" in text:
        text = _EMPTY_BRACKETS.sub(" ", text)
    return tidy_punctuation(text)


def tidy_punctuation(text: str) -> str:
    if "(" in text or "[" in text:
        text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    text = " ".join(text.split())
    if any(loose in text for loose in _LOOSE_SPACES):
        text = _SPACE_BEFORE_PUNCT.sub("", text)
    return _COMMA_BEFORE_STOP.sub("", text)


def expand_shorthand(text: str) -> str:
    """ "24/7" in words, and "2.0" as "2": before phone numbers are set aside."""
    if "24" in text:
        text = _TWENTY_FOUR_SEVEN.sub("24 hours a day, 7 days a week", text)
    if ".0" in text:
        text = _POINT_ZERO.sub(_before_group, text)
    return text
