"""Spoken form: answer text turned into what a voice should say.

A text-to-speech voice reads what it is given: "**Call**" becomes "asterisk asterisk call",
"10 lb" becomes "ten l b", "7-10 days" becomes "seven minus ten days". :func:`spoken_form`
removes the markdown, says numbers, units, ranges and abbreviations the way people say
them, and breaks very long sentences into shorter ones, without changing what the text
means. Phone numbers, web addresses and e-mail addresses pass through untouched, and
acronyms (PSA, GP, DVT) keep their capitals so the voice spells them.

:func:`spoken_datetime` says an appointment time the way a receptionist would.
"""

from __future__ import annotations

import re
from datetime import datetime

from avatar_bridge.sentences import split_sentences

__all__ = ["spoken_datetime", "spoken_form"]

MAX_SENTENCE_WORDS = 30
_MARKUP_PASSES = 4
_MIN_PART_WORDS = 6

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

# --- markdown ------------------------------------------------------------------------

_MARKDOWN_CHARS = re.compile(r"[\n*_`#|\[\]•]|~~|<[A-Za-z/!]")
_MARKDOWN_START = re.compile(r"\s*(?:[-+>]|\d{1,3}[.)])(?:\s|$)|\s*(?:-\s*){3,}$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_CITATION = re.compile(r"\s?\[(?:\^?\d+(?:\s*[,-]\s*\d+)*)\]")
_HTML_BREAK = re.compile(r"<br\s*/?>|</p>|</li>|</h[1-6]>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_FENCE = re.compile(r"^\s*(?:```|~~~)[\w+.-]*\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT_RULE = re.compile(r"^\s*(?:=+|-+)\s*$")
_RULE = re.compile(r"^\s*(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")
_BULLET = re.compile(r"^\s*(?:[-*+•▪◦‣]|\d{1,3}[.)]|[a-z][.)])(?:\s+(.*))?$")
_TASK_BOX = re.compile(r"^\[[ xX]\]\s+")
_QUOTE = re.compile(r"^\s*(?:>\s?)+(?!\s*\d)")
_TABLE_ROW = re.compile(r"^\s*\|(.*)\|?\s*$")
_TABLE_RULE = re.compile(r"^[\s|:\-]+$")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_INLINE_CODE = re.compile(r"`+([^`]*)`+")
_STRAY_MARKS = re.compile(r"[*`]+|(?<![\w])_+|_+(?![\w])|(?:^|\s)#+(?=\s|$)")
_LOWER_WORD = re.compile(r"[a-z]+\b")

# --- words, numbers and units --------------------------------------------------------

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
    if "](" in text or "][" in text:
        text = _IMAGE.sub(r"\1", text)
        text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    if "<" in text:
        text = _AUTOLINK.sub(r"\1", text)
    if "://" in text or "www." in text or "@" in text:
        text = _URL.sub(lambda m: vault.keep(m.group()), text)
    for _ in range(_MARKUP_PASSES):
        # Removing one layer of markup can reveal another ("**# Title**"): repeat until
        # nothing changes, so that saying the result again finds nothing left to remove.
        before = text
        if _looks_like_markdown(text):
            text = _plain_from_markdown(text)
        text = _clear_marks(text)
        if text == before:
            break
    if not text:
        return ""
    if "24" in text:
        text = _TWENTY_FOUR_SEVEN.sub("24 hours a day, 7 days a week", text)
    if ".0" in text:
        text = _POINT_ZERO.sub(_before_group, text)
    if _DIGIT.search(text):
        text = _PHONE.sub(lambda m: _keep_phone(m, vault), text)
    text = _words(text)
    text = _tidy_punctuation(text)
    text = _shorten_long_sentences(text)
    text = vault.restore(text)
    if depth < _MARKUP_PASSES and _starts_with_markup(text):
        # What is left starts like a list item ("10." from a line of its own); said again
        # it would lose the marker, so lose it now.
        return _spoken(text, depth + 1)
    return text if _has_word(text) else ""


def _looks_like_markdown(text: str) -> bool:
    return bool(_MARKDOWN_CHARS.search(text) or _MARKDOWN_START.match(text))


def _starts_with_markup(text: str) -> bool:
    """Whether the markdown pass would find a list or quote marker at the start."""
    if "://" in text or "www." in text or "@" in text:
        text = _URL.sub("\ue000", text)
    return bool((_BULLET.match(text) or _QUOTE.match(text)) and _looks_like_markdown(text))


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


# --- markdown ------------------------------------------------------------------------


def _plain_from_markdown(text: str) -> str:
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    text = _CITATION.sub("", text)
    blocks: list[str] = []
    paragraph: list[str] = []
    in_code = False

    def end_paragraph() -> None:
        if paragraph:
            blocks.append(_end_paragraph(" ".join(paragraph)))
            paragraph.clear()

    for raw in text.splitlines():
        if _FENCE.match(raw):
            end_paragraph()
            in_code = not in_code
            continue
        line = raw.strip()
        if not line:
            end_paragraph()
            continue
        if in_code:
            blocks.append(_end_block(line))
            continue
        if _RULE.match(line):
            end_paragraph()
            continue
        if _SETEXT_RULE.match(line) and paragraph:
            heading = " ".join(paragraph)
            paragraph.clear()
            blocks.append(_end_block(_inline(heading)))
            continue
        heading_match = _HEADING.match(line)
        if heading_match:
            end_paragraph()
            blocks.append(_end_block(_inline(heading_match.group(1))))
            continue
        line = _QUOTE.sub("", line).strip()
        row = _TABLE_ROW.match(line)
        if row and line.count("|") >= 2:
            end_paragraph()
            if not _TABLE_RULE.match(line):
                cells = [_inline(c.strip()) for c in row.group(1).split("|")]
                blocks.append(_end_block(", ".join(c for c in cells if c)))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            end_paragraph()
            item = bullet.group(1) or ""
            while nested := _BULLET.match(item):
                item = nested.group(1) or ""
            item = _TASK_BOX.sub("", item)
            blocks.append(_end_block(_capitalise(_inline(item))))
            continue
        line = _inline(line)
        if paragraph and line[:1].isupper() and not paragraph[-1].endswith((",", ";")):
            # A new line that starts a new thought: keep the boundary the line break made.
            end_paragraph()
        paragraph.append(line)
    if paragraph:
        blocks.append(" ".join(paragraph))  # the last words keep the ending they were given
    return " ".join(" ".join(b for b in blocks if b).split())


def _inline(text: str) -> str:
    text = _INLINE_CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _EMPHASIS_STAR.sub(r"\1", text)
    text = _EMPHASIS_UNDERSCORE.sub(r"\1", text)
    return text.strip()


def _capitalise(text: str) -> str:
    if _LOWER_WORD.match(text):
        return text[0].upper() + text[1:]
    return text


def _end_block(text: str) -> str:
    """A heading, list item or table row: said as a sentence of its own."""
    text = text.rstrip()
    if not text or not _has_word(text):
        return ""
    if text[-1] in ",;:":
        text = text[:-1].rstrip()
    return text if _ends_sentence(text) else text + "."


def _end_paragraph(text: str) -> str:
    text = text.rstrip()
    if not text or not _has_word(text):
        return ""
    if _ends_sentence(text) or text[-1] in ":;," or not any(ch.isalpha() for ch in text):
        return text
    return text + "."


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip(")]}\"'”’»*_`")
    return bool(stripped) and stripped[-1] in ".!?…"


# --- words, numbers and units --------------------------------------------------------


def _words(text: str) -> str:
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


def _clear_marks(text: str) -> str:
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
    return _tidy_punctuation(text)


def _tidy_punctuation(text: str) -> str:
    if "(" in text or "[" in text:
        text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    text = " ".join(text.split())
    if any(loose in text for loose in _LOOSE_SPACES):
        text = _SPACE_BEFORE_PUNCT.sub("", text)
    return _COMMA_BEFORE_STOP.sub("", text)


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
        right[0] = _capitalise(right[0])
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


# --- appointment times ---------------------------------------------------------------

_DAYS_SAID_BY_NAME = 6
# Spelled out here, not taken from the locale: the voice speaks English whatever the server.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def spoken_datetime(when: datetime, now: datetime) -> str:
    """An appointment time as people say it, in ``when``'s own time zone.

    "today at 10:30", "tomorrow at 2 pm", "on Thursday at midday" within six days, and
    "on Thursday the 3rd of December at 10:30" beyond (with the year when it is not this
    year's and more than half a year away). Both datetimes must be time-zone aware.
    """
    if when.tzinfo is None or now.tzinfo is None:
        raise ValueError("spoken_datetime needs time-zone aware datetimes")
    local_now = now.astimezone(when.tzinfo)
    days = (when.date() - local_now.date()).days
    at = f"at {_spoken_time(when.hour, when.minute)}"
    if days == 0:
        return f"today {at}"
    if days == 1:
        return f"tomorrow {at}"
    weekday = _WEEKDAYS[when.weekday()]
    if 1 < days <= _DAYS_SAID_BY_NAME:
        return f"on {weekday} {at}"
    month = _MONTHS[when.month - 1]
    date = f"the {_ordinal(when.day)} of {month}"
    if when.year != local_now.year and abs(days) > 183:
        date += f" {when.year}"
    return f"on {weekday} {date} {at}"


def _spoken_time(hour: int, minute: int) -> str:
    if minute == 0:
        if hour == 12:
            return "midday"
        if hour == 0:
            return "midnight"
        return f"{hour % 12} {'am' if hour < 12 else 'pm'}"
    clock = f"{(hour % 12) or 12}:{minute:02d}"
    if 8 <= hour < 12:
        return clock  # a morning appointment: "at 10:30" is how it is said
    return f"{clock} {'am' if hour < 12 else 'pm'}"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
