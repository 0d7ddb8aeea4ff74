"""Red-flag triage: fixed rules run on every patient utterance before retrieval. Pure.

Each rule pairs the ways people describe one danger sign (speech-recognition slips,
partners speaking, numbers said in words) with a fixed, clinician-approved instruction.
A phrasing counts only when the utterance reports it: not when it is negated ("no
fever"), inside a hypothetical ("what should I do if my catheter stops draining?"), or
part of a general question that says nothing about the speaker or the person they care
for ("can sex cause chest pain?"). The most severe matching rule wins.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from escalation.clinic import ClinicConfig, TriageThresholds

Priority = Literal["routine", "urgent", "emergency"]

PRIORITY_ORDER: dict[Priority, int] = {"emergency": 0, "urgent": 1, "routine": 2}


@dataclass(frozen=True)
class RedFlag:
    rule: str
    priority: Priority
    instruction: str
    """Fixed spoken instruction, plain text, with the clinic's numbers filled in."""
    matched: str
    """The words that triggered the rule, for coordinators; never spoken."""


# ---------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CONTRACTIONS: tuple[tuple[str, str], ...] = (
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bshan't\b", "shall not"),
    (r"\bain't\b", "is not"),
    (r"n't\b", " not"),
    (r"'m\b", " am"),
    (r"'re\b", " are"),
    (r"'ve\b", " have"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (
        r"\b(he|she|it|that|there|what|who|where|here|how|this|nothing|everything|something"
        r"|someone|somebody|everyone|nobody)'s\b",
        r"\1 is",
    ),
    (r"'s\b", ""),
)

# Spoken or typed without the apostrophe, as speech recognisers often write them.
_BARE_CONTRACTIONS = {
    "cant": "can not",
    "wont": "will not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "hasnt": "has not",
    "havent": "have not",
    "hadnt": "had not",
    "couldnt": "could not",
    "wouldnt": "would not",
    "shouldnt": "should not",
    "im": "i am",
    "ive": "i have",
    "thats": "that is",
    "theres": "there is",
    "whats": "what is",
    "hes": "he is",
    "gonna": "going to",
    "gunna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "kinda": "kind of",
    "dunno": "do not know",
    "outta": "out of",
    "id": "i would",
    "youre": "you are",
}

# Speech-recognition slips and spellings seen in transcripts, mapped to the word meant.
_SLIPS = {
    "cathedar": "catheter",
    "catheater": "catheter",
    "cathater": "catheter",
    "catheder": "catheter",
    "cathiter": "catheter",
    "cathetor": "catheter",
    "catherter": "catheter",
    "cathator": "catheter",
    "catheters": "catheter",
    "cathedars": "catheter",
    "catheterr": "catheter",
    "cathter": "catheter",
    "catheather": "catheter",
    "catheeter": "catheter",
    "caff": "calf",
    "carf": "calf",
    "calve": "calf",
    "calfs": "calves",
    "cav": "calf",
    "temp": "temperature",
    "temps": "temperature",
    "temprature": "temperature",
    "temperture": "temperature",
    "tempreture": "temperature",
    "tempature": "temperature",
    "temperatue": "temperature",
    "feaver": "fever",
    "fevor": "fever",
    "fevah": "fever",
    "feva": "fever",
    "puss": "pus",
    "vomitting": "vomiting",
    "vomitted": "vomited",
    "stomache": "stomach",
    "tummys": "tummy",
    "urin": "urine",
    "sucidal": "suicidal",
    "suicidle": "suicidal",
    "suicidial": "suicidal",
    "clods": "clots",
    "breathe's": "breathes",
    "breathles": "breathless",
    "diarrhoea": "diarrhea",
    "wounds": "wound",
    "thermometre": "thermometer",
    "farenheit": "fahrenheit",
    "fahrenheight": "fahrenheit",
    "celcius": "celsius",
    "centigrade": "celsius",
    "mottling": "mottled",
    "slured": "slurred",
    "sluring": "slurring",
    "confussed": "confused",
    "alot": "a lot",
    "abit": "a bit",
}

_FILLERS = _word_set("um umm ummm uh uhh uhm erm er ah ahh eh hmm hm mm mmm uhhh")
# Words the rules and intents hinge on. A typed or transcribed word that is one of these
# with two neighbouring letters swapped ("berath", "fianted", "sohuld") is read as it.
_KEYWORDS = _word_set(
    "breath breathe breathing breathless collapsed collapse fainted faint fainting passed"
    " myself kill killing suicide suicidal harm hurting chest pressure coughing cough blood"
    " bleeding bleed clots clotted catheter draining drained drain filling filled blocked"
    " bladder temperature fever feverish shivering shaking shivers chills confused slurred"
    " mottled swollen swelling calf calves leg legs wound weeping oozing smelly vomiting"
    " vomit belly stomach tummy abdomen urine burgundy burning stinging should could would"
    " thanks thank goodnight afternoon morning evening hello goodbye cheers climax orgasm"
    " worried worry unable cannot nothing since hours pain painful severe terrible awful"
    " person someone somebody human nurse doctor speak talk"
)


def _untransposed(word: str) -> str:
    if len(word) < 5 or word in _KEYWORDS:
        return word
    for i in range(len(word) - 1):
        swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if swapped in _KEYWORDS:
            return swapped
    return word


_UNITS = {
    "zero": 0,
    "oh": 0,
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
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}

_PUNCT = frozenset({",", ".", "?"})
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


def _tokenise(text: str) -> tuple[list[str], list[int]]:
    """Lower-case word tokens and, for each, the punctuation before it (0 none, 1 comma, 2 stop)."""
    s = text.lower()
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    s = s.replace("\u201c", " ").replace("\u201d", " ")
    s = re.sub(r"(\d),(\d{1,2})\b", r"\1.\2", s)
    s = re.sub(r"(\d),(\d{3})\b", r"\1\2", s)
    for pattern, replacement in _CONTRACTIONS:
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
        elif raw in _BARE_CONTRACTIONS:
            words = _BARE_CONTRACTIONS[raw].split()
        elif raw in _SLIPS:
            words = _SLIPS[raw].split()
        elif raw.isalpha():
            words = [_untransposed(raw)]
        if raw in _FILLERS:
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


def _joined(tokens: list[str], bounds: list[int], question_mark: bool) -> list[str]:
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
    tokens, bounds = _tokenise(text)
    return " ".join(_joined(tokens, bounds, text.rstrip().endswith("?")))


# ---------------------------------------------------------------------------------------
# The utterance as the rules see it
# ---------------------------------------------------------------------------------------

_CLAUSE_END = frozenset({",", ".", "?"})
_NEGATORS = frozenset({"no", "not", "never", "without", "nor", "neither", "none"})
_NOT_NEGATING_AFTER_NO = frozenset({"one", "idea", "clue", "doubt", "matter", "way", "problem"})
_NEGATION_STOP = _word_set(
    "and but though although because however so then yet while whereas now except"
)
_SUBJECTS = frozenset({"i", "he", "she", "we", "they", "there"})
_RAISING = frozenset({"think", "believe", "reckon", "suppose", "guess", "say", "that", "feel"})
# "if" after these asks about the speaker's own state ("I wonder if my catheter is blocked").
_EPISTEMIC = _word_set(
    "wondering wonder sure unsure know tell ask asking see check checking worried worry wondered"
)
_CONDITIONAL_CUES = _word_set("if whether unless suppose supposing ever hypothetically incase")
_QUESTION_CONDITIONAL_CUES = _word_set(
    "when whenever once after signs sign symptoms symptom counts count mean means"
)
_CONDITIONAL_END = frozenset({"but", "then", "however", "anyway"})
# "The nurse said my catheter might get blocked": a warning passed on, not a report.
_REPORTING = frozenset({"said", "says", "told", "warned", "explained", "mentioned", "read"})
_MODALS = frozenset({"might", "may", "could", "can", "would", "will", "should"})
_WH = frozenset({"what", "how", "which", "who", "why", "whom", "whose", "where", "when"})
_AUX = _word_set(
    "is are was were should shall can could does do did would will might may must am has have any"
)
_FRAME_WORDS = frozenset({"tell", "explain", "describe"})
_SUBORDINATE_SUBJECTS = frozenset(
    ["i", "he", "she", "we", "they", "my", "his", "her", "the", "it", "our"]
)
# Openings skipped before deciding whether the utterance is a question.
_LEADING = (
    "hi",
    "hello",
    "hey",
    "ok",
    "okay",
    "so",
    "well",
    "right",
    "please",
    "sorry",
    "and",
    "also",
    "just",
    "one more thing",
    "nurse",
    "doctor",
    "aftercare",
    "excuse me",
    "yes",
    "yeah",
    "oh",
    "good morning",
    "good afternoon",
    "good evening",
    "hi there",
    "hello there",
    "thanks",
    "thank you",
    "basically",
    "listen",
)
# Openings that announce a question about the topic.
_INTRO = (
    "quick question",
    "question",
    "a question",
    "another question",
    "i was wondering",
    "i wonder",
    "i was just wondering",
    "just wondering",
    "can you tell me",
    "could you tell me",
    "can you please tell me",
    "i want to know",
    "i would like to know",
    "i need to know",
    "do you know",
    "i just wanted to ask",
    "i wanted to ask",
    "i want to ask",
    "can i ask",
    "could i ask",
    "may i ask",
    "i have a question",
    "i have got a question",
    "tell me",
    "please tell me",
)
_OPENINGS = tuple(
    sorted(
        [(p.split(), False) for p in _LEADING] + [(p.split(), True) for p in _INTRO],
        key=lambda item: len(item[0]),
        reverse=True,
    )
)

_STRONG = re.compile(
    r"\b(?:since|today|tonight|right now|at the moment|this (?:morning|afternoon|evening)"
    r"|last night|yesterday|all day|all night|currently|just now)\b"
)
_NOT_SELF = (
    r"wife|husband|partner|nurse|nurses|doctor|doctors|surgeon|consultant|gp|team|son|daughter"
    r"|dad|father|mum|mother|family|operation|surgery|procedure|op|prostatectomy|recovery"
    r"|appointment|appointments|friend|friends|brother|sister|carer|boyfriend|girlfriend|kids"
    r"|children|question|questions|results|psa|test|tests|english|life"
)
_INVERTED = (
    r"(?<!\bdo )(?<!\bdoes )(?<!\bdid )(?<!\bshould )(?<!\bshall )(?<!\bcan )(?<!\bcould )"
    r"(?<!\bwould )(?<!\bwill )(?<!\bmight )(?<!\bmay )(?<!\bmust )(?<!\bto )(?<!\bam )"
    r"(?<!\bhave )(?<!\bhas )(?<!\bwhat )"
)
_MARKERS = (
    re.compile(
        rf"{_INVERTED}\b(?:i|he|she|we)(?: just| still| really| now| suddenly| also| even)?"
        r" (?:am|is|are|was|were|have|has|had|feel|feels|felt|got|gets|keep|keeps|kept|can not"
        r"|could not|do not|does not|did not|woke|noticed|started|been|think|seem|seems"
        r"|coughed|fainted|collapsed|passed|threw|vomited|hurt|hurts|need|tried|try|went"
        r"|looked|look|looks|checked|only|pulled|caught)\b"
    ),
    re.compile(rf"\b(?:my|his|our) (?!(?:{_NOT_SELF})\b)[a-z]+"),
    _STRONG,
    re.compile(
        r"\bfor (?:the (?:last|past) )?(?:\d+|a|an|a few|few|several|a couple of|two"
        r"|three|four|five|six|hours|days) (?:hours?|days?|minutes?)?\b"
    ),
    re.compile(r"(?<!\bis )(?<!\bare )\bthere (?:is|are|was|were|has been|have been|seems)\b"),
    re.compile(
        r"\bthe (?:catheter|bag|tube|wound|urine|pee|wee|leg|calf|scar|belly|stomach|tummy"
        r"|chest) (?:is|has|was|keeps|will not|looks|smells|seems|just|stopped|came|fell"
        r"|feels|hurts)\b"
    ),
    re.compile(
        r"\bwhy (?:do|does|is|am|are|has|have|did|can|can not|could not|will not)"
        r" (?:i|my|he|his|she|her|it)\b"
    ),
)


@dataclass(frozen=True)
class _Reading:
    """A temperature said in the utterance."""

    celsius: float
    comparator: bool
    index: int
    phrase: str


@dataclass(frozen=True)
class _Utterance:
    text: str
    tokens: tuple[str, ...]
    offsets: tuple[int, ...]
    question: bool
    conditional: tuple[bool, ...]
    reported: bool
    readings: tuple[_Reading, ...]
    hours: float | None

    def token_at(self, char: int) -> int:
        return max(0, bisect_right(self.offsets, char) - 1)


_TEMP_WORDS = frozenset(
    {"temperature", "fever", "feverish", "thermometer", "degrees", "degree", "reading"}
)
_NOT_TEMPERATURE = _word_set(
    "hours hour days day minutes mins weeks week am pm oclock kg kilos kilograms "
    "pounds lbs lb ml mg years year times percent ng mls litres liters glasses cups "
    "stone miles steps beats bpm months month nights night pads seconds"
)
_WEATHER = _word_set("outside weather room bath shower heatwave sun sunny oven water house bedroom")
_UP = _word_set(
    "over above than least exceeds exceeding hits hit reaches reached past beyond higher more"
)
_DOWN = frozenset({"below", "under", "lower", "less", "beneath"})
_OR_MORE = frozenset({("more",), ("above",), ("higher",), ("over",)})


def _readings(tokens: tuple[str, ...]) -> tuple[_Reading, ...]:
    found: list[_Reading] = []
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
        found.append(_Reading(round(celsius, 2), comparator, i, " ".join(tokens[i:j])))
    return tuple(found)


_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    **{word: value for word, value in _UNITS.items() if 1 <= value <= 12},
    "few": 3,
    "a few": 3,
    "couple": 2,
    "a couple of": 2,
    "couple of": 2,
    "several": 4,
    "many": 5,
    "some": 2,
}
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


def _hours(text: str) -> float | None:
    """The longest duration the utterance mentions, in hours; None when it gives none."""
    found: list[float] = []
    for m in _DURATION.finditer(text):
        num = m["num"]
        count = float(num) if num[0].isdigit() else float(_NUMBER_WORDS[num])
        found.append(count * _UNIT_HOURS[m["unit"]])
    found.extend(_SINCE_HOURS[m["when"]] for m in _SINCE.finditer(text))
    found.extend(_FIXED_SPANS[m[0]] for m in _FIXED.finditer(text))
    return max(found) if found else None


def _body_start(tokens: list[str]) -> tuple[int, bool]:
    """Where the utterance proper starts, and whether its opening announced a question."""
    i = 0
    intro = False
    moved = True
    while moved and i < len(tokens):
        moved = False
        if tokens[i] in _PUNCT:
            i += 1
            moved = True
            continue
        for phrase, announces in _OPENINGS:
            if tokens[i : i + len(phrase)] == phrase:
                i += len(phrase)
                intro = intro or announces
                moved = True
                break
    return i, intro


def _is_question(tokens: list[str], start: int) -> bool:
    if start >= len(tokens):
        return False
    first = tokens[start]
    second = tokens[start + 1] if start + 1 < len(tokens) else ""
    if first in _AUX:
        return second != "not"
    if first in _FRAME_WORDS:
        return True
    return first in _WH and second not in _SUBORDINATE_SUBJECTS


def _epistemic_if(tokens: list[str], i: int, start: int, intro: bool) -> bool:
    """ "if" meaning "whether", asking about the speaker's own state ("not sure if ...")."""
    return tokens[i] in ("if", "whether") and (
        (i == start and intro) or (i > 0 and tokens[i - 1] in _EPISTEMIC)
    )


def _conditional_scope(
    tokens: list[str], question: bool, readings: tuple[_Reading, ...], skip: int | None
) -> list[bool]:
    scope = [False] * len(tokens)
    open_at: int | None = None
    regions: list[tuple[int, int]] = []
    for i, tok in enumerate(tokens):
        if tok in _CLAUSE_END or tok in _CONDITIONAL_END:
            if open_at is not None:
                regions.append((open_at, i))
                open_at = None
            continue
        cue = i != skip and (
            tok in _CONDITIONAL_CUES or (question and tok in _QUESTION_CONDITIONAL_CUES)
        )
        if tok == "case" and i > 0 and tokens[i - 1] == "in":
            cue = True
        if cue and open_at is None:
            open_at = i
    if open_at is not None:
        regions.append((open_at, len(tokens)))
    for i, tok in enumerate(tokens):
        if tok in _REPORTING:
            end = next((k for k in range(i, len(tokens)) if tokens[k] in _CLAUSE_END), len(tokens))
            if _MODALS & set(tokens[i:end]):
                regions.append((i, end))
    measured = {r.index for r in readings if not r.comparator}
    for start, end in regions:
        region = " ".join(tokens[start:end])
        # A concrete time or measurement inside "if ..." means it is happening.
        if _STRONG.search(region) or measured & set(range(start, end)):
            continue
        for k in range(start, end):
            scope[k] = True
    return scope


def _utterance(text: str) -> _Utterance:
    tokens_list, bounds = _tokenise(text)
    words = _joined(tokens_list, bounds, text.rstrip().endswith("?"))
    offsets: list[int] = []
    pos = 0
    for word in words:
        offsets.append(pos)
        pos += len(word) + 1
    joined = " ".join(words) + " "
    start, intro = _body_start(words)
    question = intro or _is_question(words, start)
    # "I wonder if my catheter is blocked": an indirect question about his own state.
    skip: int | None = None
    if not _is_question(words, start):
        skip = next(
            (
                i
                for i in range(start, len(words))
                if words[i] in ("if", "whether") and _epistemic_if(words, i, start, intro)
            ),
            None,
        )
        if skip is not None and any(words[k] in _CONDITIONAL_CUES for k in range(start, skip)):
            skip = None
        question = question or skip is not None
    tokens = tuple(words)
    readings = _readings(tokens)
    conditional = _conditional_scope(words, question, readings, skip)
    masked = " ".join("_" if (conditional[k] or k < start) else tok for k, tok in enumerate(words))
    reported = any(m.search(masked) for m in _MARKERS) or any(
        not r.comparator and not conditional[r.index] for r in readings
    )
    return _Utterance(
        text=joined,
        tokens=tokens,
        offsets=tuple(offsets),
        question=question,
        conditional=tuple(conditional),
        reported=reported,
        readings=readings,
        hours=_hours(joined),
    )


def _negated(u: _Utterance, index: int) -> bool:
    """Whether a negation word governs the phrase starting at token ``index``."""
    for k in range(index - 1, max(-1, index - 8), -1):
        tok = u.tokens[k]
        if tok in _CLAUSE_END or tok in _NEGATION_STOP:
            return False
        if tok in _NEGATORS:
            after = u.tokens[k + 1] if k + 1 < len(u.tokens) else ""
            if tok == "no" and after in _NOT_NEGATING_AFTER_NO:
                continue
            return True
        if tok in _SUBJECTS and k > 0 and u.tokens[k - 1] not in _RAISING and k < index - 1:
            return False
    return False


# ---------------------------------------------------------------------------------------
# Rule table
# ---------------------------------------------------------------------------------------

Gate = Callable[[_Utterance, TriageThresholds], bool]

_TOK = r"(?:[a-z0-9]+(?:\.[0-9]+)?|,)"
_NEG = r"(?:not|no|never|nothing|none|without|nor)"


def _gap(n: int) -> str:
    return rf"(?:{_TOK} ){{0,{n}}}"


def _gapnn(n: int) -> str:
    """Up to ``n`` words, none of them a negation."""
    return rf"(?:(?!{_NEG} ){_TOK} ){{0,{n}}}"


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Cue:
    """One way of saying a danger sign, with what must not surround it."""

    pattern: re.Pattern[str]
    in_questions: bool = False
    """Fires even inside a general question: disclosures rarely come as statements."""
    not_before: re.Pattern[str] | None = None
    """Searched in the text before the match (anchor it with ``$``)."""
    not_after: re.Pattern[str] | None = None
    """Matched at the start of the text after the match."""
    not_within: re.Pattern[str] | None = None
    """Searched in the matched text itself."""
    gate: Gate | None = None
    """A clinic threshold the utterance must pass (durations, temperatures)."""


def _cue(
    pattern: str,
    *,
    in_questions: bool = False,
    not_before: str | None = None,
    not_after: str | None = None,
    not_within: str | None = None,
    gate: Gate | None = None,
) -> Cue:
    return Cue(
        _re(pattern),
        in_questions,
        _re(not_before) if not_before else None,
        _re(not_after) if not_after else None,
        _re(not_within) if not_within else None,
        gate,
    )


Detector = Callable[[_Utterance, ClinicConfig], str | None]


@dataclass(frozen=True)
class Rule:
    id: str
    priority: Priority
    description: str
    instruction: str
    """Template filled from ``ClinicConfig.placeholders()`` (``{on_call_phone}``, ...)."""
    cues: tuple[Cue, ...]
    detector: Detector | None = None
    """Extra logic beyond phrases (temperatures said as numbers)."""

    def render(self, clinic: ClinicConfig) -> str:
        return self.instruction.format_map(clinic.placeholders())


# Shared vocabulary ----------------------------------------------------------------------

_CATH = r"(?:catheter|cath|foley|tube)"
_BAG = r"(?:(?:leg |night |catheter |urine |pee |wee |drainage )?bag)"
_CATH_OR_BAG = rf"(?:{_CATH}|{_BAG})"
_DRAIN = (
    r"(?:drain|drains|draining|drained|fill|fills|filling|filled|flow|flows|flowing|work"
    r"|works|working)"
)
_PASS = (
    r"(?:pee|peed|peeing|wee|weed|weeing|urinate|urinated|urinating|piss|pissed|pissing"
    r"|(?:pass|passed|passing) (?:any |much |a drop of )?(?:urine|water|wee|pee)"
    r"|(?:have|had|having|do|did|done|doing) (?:a|any) (?:wee|pee)"
    r"|(?:empty|emptied|emptying) (?:my|his|the) bladder)"
)
_NOT_PASS_GAP = (
    r"(?:(?!(?:stop|hold|control|help|wait|feel|tell|remember|stand|had to) )[a-z]+ ){0,2}"
)
_LEG_SYMPTOM = (
    r"(?:swollen|swelling|swelled|swell|swells|puffy|puffed up|bigger|fatter|painful|pain"
    r"|sore|tender|aching|achy|aches|ache|hurts|hurting|throbbing|hot|warm|red|redness"
    r"|tight|hard|heavy)"
)
_BELLY = r"(?:belly|stomach|tummy|abdomen|abdominal|tum|gut|guts)"
_SEVERE = (
    r"(?:severe|terrible|awful|horrible|excruciating|agonising|agonizing|unbearable"
    r"|really bad|very bad|so bad|bad|intense|worst|worsening|increasing|crippling|stabbing"
    r"|sharp|extreme|horrendous|constant)"
)
_WOUND = (
    r"(?:wound|scar|scars|incision|incisions|stitches|stitch|keyhole|keyholes|cuts"
    r"|port site|port sites|belly button|navel|dressing|staples)"
)
_WOUND_SIGN = (
    r"(?:red|redder|reddish|hot|warm|inflamed|angry|infected|smell|smells|smelly|smelling"
    r"|stinks|stinking|stinky|pus|pussy|oozing|oozes|ooze|weeping|weeps|leaking|leaks"
    r"|discharge|discharging|open|opened|opening|gaping|split|splitting|burst|coming apart"
    r"|come apart|came apart|yellow|green|mucky|gunk|gooey)"
)
_STRONG_RED = r"(?:bright red|dark red|deep red|blood red|bright scarlet|burgundy|claret)"
_URINE_COLOUR = (
    r"(?:bright red|dark red|deep red|blood red|very red|really red|proper red|bright scarlet"
    r"|red wine|wine colou?r(?:ed)?|like wine|burgundy|claret|ketchup|beetroot|like cola"
    r"|like coca cola)"
)
_MILD = r"(?:a (?:little |tiny |wee )?bit|slightly|little|mildly|bit|bit more|more easily)"


def _at_least_hours(threshold: Callable[[TriageThresholds], float], unknown: bool) -> Gate:
    """True when the stated duration reaches the threshold (or none is stated and ``unknown``)."""

    def gate(u: _Utterance, t: TriageThresholds) -> bool:
        if u.hours is None:
            return unknown
        return u.hours >= threshold(t)

    return gate


_PERSISTING = _re(
    r"\b(?:still|for days|for a week|for weeks|weeks|will not go away|not going away"
    r"|not getting better|getting worse|worse|days now|for ages|keeps)\b"
)


def _burning_persists(u: _Utterance, t: TriageThresholds) -> bool:
    if u.hours is not None and u.hours >= t.burning_days * 24:
        return True
    return bool(_PERSISTING.search(u.text))


def _measured(u: _Utterance) -> list[_Reading]:
    return [r for r in u.readings if not u.conditional[r.index]]


def _no_low_reading(u: _Utterance, t: TriageThresholds) -> bool:
    """A reported temperature below the threshold outweighs feeling hot."""
    measured = [r for r in _measured(u) if not r.comparator]
    return not measured or any(r.celsius >= t.fever_celsius for r in measured)


def _fever_reading(u: _Utterance, clinic: ClinicConfig) -> str | None:
    if u.question and not u.reported:
        return None
    for reading in _measured(u):
        if reading.celsius >= clinic.triage.fever_celsius:
            return reading.phrase
    return None


_NO_URINE_CUES = (
    rf"\b(?:have|has|had|did) not {_NOT_PASS_GAP}{_PASS}\b",
    rf"\bno (?:urine|pee|wee|water) {_gap(3)}(?:for|all|since|in)\b",
)
_INABILITY = (
    rf"\b(?:can not|could not|unable to|(?:not|never) (?:been )?able to) {_NOT_PASS_GAP}{_PASS}\b"
)


def _mentions(pattern: str) -> Gate:
    """True when the utterance also reports ``pattern`` (not negated, not hypothetical)."""
    compiled = _re(pattern)

    def gate(u: _Utterance, _: TriageThresholds) -> bool:
        for m in compiled.finditer(u.text):
            start = u.token_at(m.start())
            if not u.conditional[start] and not _negated(u, start):
                return True
        return False

    return gate


def _either(*gates: Gate) -> Gate:
    return lambda u, t: any(gate(u, t) for gate in gates)


_CATHETER_IN = _re(r"\b(?:catheter|cath|foley|leg bag|night bag|catheter bag|drainage bag|bag)\b")


def _red_urine(u: _Utterance, t: TriageThresholds) -> bool:
    """Red urine: at once while the catheter is in; otherwise once it outlasts the threshold."""
    if _CATHETER_IN.search(u.text):
        return True
    return _at_least_hours(lambda th: th.bleeding_urine_hours, True)(u, t)


_BELLY_PAIN = (
    rf"\b{_BELLY} {_gapnn(3)}(?:pain|pains|painful|hurts|hurting|ache|aches|aching|cramp"
    r"|cramps|cramping|sore|tight|full|swollen|bloated|bursting|tender)\b"
    rf"|\b(?:pain|pains|ache|aching|cramps|cramping|tightness) {_gap(3)}(?:in )?(?:my |his |the )?"
    rf"(?:lower )?(?:{_BELLY}|bladder)\b"
)
_LITTLE_IN_BAG = (
    r"\b(?:little|hardly any|barely any|not much|very little|hardly anything|barely anything)"
    rf" {_gap(3)}(?:in|into|going into|draining into|gone into|coming into) (?:the |my |his )?"
    rf"{_BAG}\b|\b{_BAG} {_gapnn(3)}(?:nearly empty|almost empty|barely filling|hardly filling"
    r"|not filling much|hardly anything)\b"
)
_VOMITING = (
    r"\b(?:vomiting|vomit|vomited|being sick|been sick|throwing up|threw up|thrown up|retching"
    r"|keep being sick|was sick)\b"
)
_FEVERISH = (
    r"\b(?:fever|feverish|temperature|high temp|hot and cold|shivery|shivering|shivers|chills"
    rf"|rigors|burning up)\b|{_VOMITING}"
)
_SWOLLEN_BELLY = (
    rf"\b{_BELLY} {_gapnn(3)}(?:swollen|distended|hard|rigid|blown up|huge|tight as a drum"
    rf"|swelling up|ballooned)\b|\b(?:swollen|distended|hard|rigid|bloated and hard)"
    rf" {_gap(1)}{_BELLY}\b"
)
_NO_BOWEL = (
    r"\b(?:not|no|never|nothing|can not|could not|unable to) {_G2}(?:opened (?:my|his) bowels"
    r"|open (?:my|his) bowels|pooed|poo|pooped|poop|a poo|bowel movement|bowel movements"
    r"|passed (?:any )?(?:wind|gas|stool|stools|a motion)|pass (?:any )?(?:wind|gas|stool|stools)"
    r"|passing (?:any )?(?:wind|gas)|farted|fart|farting|wind|gas|stool|stools)\b"
).replace("{_G2}", "(?:[a-z]+ ){0,3}")
_ANTICOAGULANT = (
    r"\b(?:blood thinning|blood thinner|blood thinners|injection|injections|injecting|jab|jabs"
    r"|clexane|enoxaparin|dalteparin|fragmin|tinzaparin|innohep|heparin|anticoagulant"
    r"|anticoagulants|warfarin|apixaban|rivaroxaban|edoxaban|dabigatran)\b"
)
_LONG_STANDING = _re(
    r"\b(?:always|for years|asthma|asthmatic|copd|emphysema|used to|before (?:the|my|his)"
    r" (?:operation|surgery|op)|hay fever)\b"
)


_HISTORY = _re(
    r"\b(?:last year|years ago|year ago|months ago|once had|used to|in the past|back in"
    r"|when (?:i|he) was (?:young|younger|a child|a boy))\b"
)
_OTHER_PERSON = _re(
    r"\b(?:friend|friends|neighbour|neighbor|neighbours|brother|sister|colleague|mate|cousin"
    r"|uncle|aunt|auntie|nephew|niece|boss|grandson|granddaughter|brother in law|sister in law"
    r"|a man|someone|somebody|people|other men|a lot of men)\b"
)
_FIRST_PERSON = _re(r"\b(?:i|me|myself|we|us)\b")


def _current(u: _Utterance, _: TriageThresholds) -> bool:
    """Happening to him now: not a past illness, not someone else's (newer rules only)."""
    if _HISTORY.search(u.text):
        return False
    return not (_OTHER_PERSON.search(u.text) and not _FIRST_PERSON.search(u.text))


def _now(gate: Gate | None = None) -> Gate:
    if gate is None:
        return _current
    return lambda u, t: _current(u, t) and gate(u, t)


def _new_breathlessness(u: _Utterance, _: TriageThresholds) -> bool:
    return not _LONG_STANDING.search(u.text)


def _not_iron(u: _Utterance, _: TriageThresholds) -> bool:
    return not re.search(r"\b(?:iron|ferrous|bismuth|pepto|liquorice|beetroot)\b", u.text)


# A few small clots or specks with pink urine are common while the catheter is in.
_SMALL_CLOTS_BEFORE = r"\b(?:small|tiny|little|wee|odd|specks of|speck of|the odd) $"

# Every instruction says how soon to act only through the clinic's urgency vocabulary
# (``ClinicConfig.urgency``); the first ``{urgency_*}`` in an instruction is its level.
_EMERGENCY_CALL = "{urgency_emergency} Say that you had prostate surgery recently."
_ON_CALL = "{urgency_urgent} {urgency_safety_net}"
_TODAY = "{urgency_today} {urgency_safety_net}"

RULES: tuple[Rule, ...] = (
    # -- Emergency -----------------------------------------------------------------------
    Rule(
        "collapse_or_fainting",
        "emergency",
        "Collapse, fainting or passing out (possible blood clot in the lungs or bleeding).",
        "Fainting or collapsing after an operation needs help straight away. "
        + _EMERGENCY_CALL
        + " If someone is not breathing normally, tell the call handler at once.",
        (
            _cue(
                r"\b(?:collapsed|collapse|collapsing|fainted|fainting|passed out|passing out"
                r"|blacked out|black out|blacking out|keeled over|lost consciousness"
                r"|losing consciousness|unconscious|unresponsive"
                r"|(?:will not|can not|could not) wake (?:him|her|up))\b"
            ),
            _cue(
                r"\b(?:feel|feels|feeling|felt|going|went|gone|getting|nearly|almost)"
                rf" {_gap(1)}faint\b"
            ),
        ),
    ),
    Rule(
        "chest_pain",
        "emergency",
        "Chest pain, tightness or pressure (possible blood clot in the lungs or heart attack).",
        "Chest pain after an operation needs checking straight away. "
        + _EMERGENCY_CALL
        + " Do not drive yourself to hospital.",
        (
            _cue(
                rf"\bchest {_gapnn(2)}(?:pain|pains|painful|hurts|hurting|hurt|ache|aches"
                r"|aching|tight|tightness|heavy|heaviness|pressure|discomfort|crushing"
                r"|squeezing|sore|burning)\b",
                not_before=(
                    rf"\b(?:spray|sprays|tablet|tablets|pill|pills|medicine|medicines"
                    rf"|medication|medications|gtn|nitrate|nitrates|nitroglycerin|angina"
                    rf"|history of|used to (?:get|have)) {_gap(3)}$"
                ),
            ),
            _cue(
                rf"\b(?:pain|pains|ache|aching|tightness|pressure|heaviness|crushing|squeezing"
                rf"|tight|heavy|stabbing) {_gap(3)}(?:in|across|on|round|around|through)"
                r" (?:my|his|the|her) chest\b"
            ),
            _cue(r"\b(?:having|had|have|having had) a heart attack\b", in_questions=True),
        ),
    ),
    Rule(
        "breathlessness",
        "emergency",
        "Sudden or severe breathlessness (possible blood clot in the lungs).",
        "Sudden or severe breathlessness after an operation needs checking straight away. "
        + _EMERGENCY_CALL
        + " Sit upright and stay as calm as you can while you wait.",
        (
            _cue(
                rf"\b(?:can not|could not|can hardly|can barely|struggling to|struggle to"
                rf"|struggling for|hard to|difficult to|trouble|difficulty|unable to|fighting to"
                rf"|fighting for|gasping for) {_gap(2)}(?:breathe|breath|breathing"
                r"|catch (?:my|his|her|a) breath|get (?:my|his|her|a) breath)\b",
                not_after=r"^(?:through|out of) (?:my|his|her|the) nose",
            ),
            _cue(
                r"\b(?:short of breath|shortness of breath|breathless|breathlessness|gasping"
                r"|can not breathe|not breathing)\b",
                not_before=rf"\b{_MILD} $",
            ),
            _cue(
                r"\b(?:suddenly|really|very|so|badly|severely|completely|extremely) out of breath\b"
            ),
        ),
    ),
    Rule(
        "coughing_blood",
        "emergency",
        "Coughing up blood (possible blood clot in the lungs).",
        "Coughing up blood after an operation needs checking straight away. " + _EMERGENCY_CALL,
        (
            _cue(
                rf"\b(?:cough|coughs|coughing|coughed|hacking|bringing up|brought up|spitting"
                rf"|spit|spat) {_gap(3)}(?:blood|bloody|blood stained|bloodstained)\b"
            ),
            _cue(rf"\bblood {_gap(3)}(?:when|while|after) (?:i |he |she )?cough"),
            _cue(
                r"\b(?:blood|bloody|blood stained) (?:in )?(?:my |his |the )?(?:phlegm|sputum"
                r"|spit|mucus)\b"
            ),
        ),
    ),
    Rule(
        "heavy_bleeding",
        "emergency",
        "Heavy bleeding that does not stop.",
        "Heavy bleeding that will not stop needs help straight away. "
        + _EMERGENCY_CALL
        + " If you can see where it is coming from, press on it firmly with a clean cloth"
        " while you wait.",
        (
            _cue(
                rf"\b(?:bleeding|blood|bleed|bleeds) {_gap(5)}(?:will not|would not|does not"
                r"|is not|can not|has not|not|never) (?:stop|stopping|stopped|ease|easing"
                r"|slowing|slow down)\b",
                not_within=r"\b(?:urine|pee|wee|bag|catheter|toilet|water|stool|poo)\b",
            ),
            _cue(
                rf"\b(?:can not|could not|unable to|not able to|trying to) {_gap(1)}stop"
                rf" {_gap(2)}(?:bleeding|blood|it bleeding)\b"
            ),
            _cue(
                rf"\b(?:heavy|heavily|lots of|lot of|loads of|so much|pouring|gushing|spurting"
                rf"|pool of|soaked|soaking|dripping) {_gap(2)}(?:blood|bleeding)\b",
                not_after=(
                    rf"^{_gap(3)}(?:in|into|from) (?:the |my |his )?(?:urine|pee|wee|bag"
                    r"|catheter|toilet|water)\b"
                ),
            ),
            _cue(
                r"\b(?:bleeding|blood) (?:is )?(?:heavily|badly|a lot|profusely|everywhere"
                r"|pouring|gushing|spurting|all over)\b"
            ),
        ),
    ),
    Rule(
        "prolonged_erection",
        "emergency",
        "An erection lasting longer than the clinic's threshold (priapism), often after an "
        "injection.",
        "An erection that lasts more than {prolonged_erection_hours} hours, especially after "
        "an injection, can damage the penis for good without quick treatment. "
        "{urgency_emergency} Or have someone take you to A&E now, and say that you had "
        "prostate surgery recently.",
        (
            _cue(r"\bpriapism\b", gate=_current),
            _cue(
                rf"\b(?:erection|hard on|boner|stiffy|penis|willy) {_gapnn(4)}(?:for|lasting"
                r"|lasted|has lasted|still|since|over|more than|going on|gone on)\b",
                gate=_now(_at_least_hours(lambda t: t.prolonged_erection_hours, False)),
            ),
            _cue(
                rf"\b(?:erection|hard on|boner|stiffy|penis|willy) {_gap(4)}(?:will not|would not"
                rf"|does not|is not|has not|not) {_gap(1)}(?:go|gone|going|went) (?:down|away"
                r"|soft)\b",
                gate=_now(_at_least_hours(lambda t: t.prolonged_erection_hours, False)),
            ),
        ),
    ),
    Rule(
        "anticoagulant_bleeding",
        "emergency",
        "Vomiting blood or black, tarry stools (bleeding inside; worse on blood thinners).",
        "Being sick with blood in it, or black, sticky poo, can mean bleeding inside, and "
        "blood-thinning injections make it worse. "
        + _EMERGENCY_CALL
        + " Tell them too if you take blood-thinning injections.",
        (
            _cue(
                rf"\b(?:vomiting|vomited|vomit|throwing up|threw up|thrown up|being sick"
                rf"|been sick|was sick|retching) {_gap(3)}(?:blood|bloody|blood stained"
                r"|bloodstained|coffee grounds)\b",
                not_within=r"\bsick of\b",
                gate=_current,
            ),
            _cue(r"\b(?:blood|bloody) (?:in )?(?:my |his |the )?(?:vomit|sick)\b", gate=_current),
            _cue(
                rf"\b(?:black|tarry|tar like|jet black|like tar) {_gap(2)}(?:poo|poos|stool"
                r"|stools|faeces|feces|motion|motions|bowel movement|bowel movements|poop)\b",
                gate=_now(_not_iron),
            ),
            _cue(
                rf"\b(?:poo|poos|stool|stools|motions|poop) {_gapnn(3)}(?:black|tarry"
                r"|like tar|jet black)\b",
                gate=_now(_not_iron),
            ),
        ),
    ),
    Rule(
        "sepsis_signs",
        "emergency",
        "Signs of sepsis: confusion or slurred speech, extreme shivering, mottled or bluish "
        "skin, a rash that does not fade under a glass, very fast breathing, cold clammy "
        "skin, no urine for a day, feeling of impending death.",
        "These can be signs of sepsis, a serious reaction to an infection. "
        + _EMERGENCY_CALL
        + " Do not wait to see if it gets better.",
        (
            _cue(
                rf"\b(?:he|she|husband|dad|father|partner|wife|grandad|granddad|grandpa|they"
                rf"|him|daddy) {_gapnn(4)}(?:confused|confusion|disorientated|disoriented"
                r"|delirious|muddled|not making (?:any )?sense|making no sense"
                r"|talking (?:nonsense|gibberish|rubbish)"
                r"|does not know where (?:he|she) is|does not recognise)\b",
                not_after=(
                    r"^(?:about|by|as to|why|what|how|whether|over|with the|regarding|me|us"
                    r"|the|my|his)\b"
                ),
                not_within=r"\b(?:said|says|told|explained|warned|mentioned|asked|might|may)\b",
            ),
            _cue(
                rf"\b(?:feel|feeling|felt|getting|becoming|become|keep getting|gone) {_gapnn(2)}"
                r"(?:confused|disorientated|disoriented|muddled|delirious)\b",
                not_after=(
                    r"^(?:, )?(?:about|by|as to|why|what|how|whether|which|over|with|regarding"
                    r"|because|when|if)\b"
                ),
            ),
            _cue(r"\b(?:can not|could not) think straight\b"),
            _cue(r"\bslurr(?:ing|ed|s|y)\b"),
            _cue(rf"\b(?:speech|talking|words) {_gapnn(3)}(?:slurred|garbled|jumbled)\b"),
            _cue(
                rf"\b(?:shaking|shivering|trembling|shaky|shivery|shakes|shivers) {_gap(2)}"
                r"(?:all over|uncontrollably|uncontrollable|violently|badly|so badly"
                r"|really badly|so much|like mad|like crazy|non stop|nonstop|like a leaf)\b"
            ),
            _cue(
                rf"\b(?:uncontrollabl[ey]|violent|violently|severe|extreme) {_gap(1)}"
                r"(?:shaking|shivering|shivers|shakes|rigors)\b"
            ),
            _cue(
                r"\b(?:can not|could not|will not) (?:stop (?:shaking|shivering|trembling)"
                r"|get warm|warm up)\b"
            ),
            _cue(rf"\bteeth {_gap(2)}chattering\b"),
            _cue(r"\b(?:rigors|rigor|shaking chills|shaking fits|shivering fits)\b"),
            _cue(r"\bmottled\b"),
            _cue(
                rf"\brash {_gapnn(6)}(?:does not|do not|did not|will not|would not|is not|not)"
                r" (?:fade|fading|go away|disappear|blanch|go pale|go white)\b"
            ),
            _cue(r"\b(?:non blanching|nonblanching|non fading) rash\b"),
            _cue(
                rf"\b(?:breathing|breathes|breathe|breaths) {_gapnn(3)}(?:very|really|so|extremely"
                r"|super) (?:fast|quick|quickly|rapid|rapidly)\b"
            ),
            _cue(r"\b(?:very|really|so|extremely) (?:fast|rapid|quick) breathing\b"),
            _cue(
                r"\b(?:cold and clammy|clammy and cold|cold clammy|cold and sweaty|clammy and"
                r" (?:pale|grey|gray|blotchy))\b"
            ),
            _cue(
                r"\b(?:skin|lips|face|fingers|fingertips|hands|feet|toes|knees|body|he|she"
                r"|him) (?:(?:is|are|was|looks|look|looking|gone|turned|turning|going|a|bit"
                r"|very|really|quite|all|and|so|kind|of|sort|slightly|blotchy|pale|went|become"
                r"|becoming|seem|seems|getting|,) ){0,4}(?:blotchy|blue|bluish|blueish|grey"
                r"|gray|ashen)\b"
            ),
            _cue(
                rf"\b(?:look|looks|looking|gone|going|turned|turning|went) {_gap(1)}"
                r"(?:blotchy|blue|bluish|blueish|ashen)\b"
            ),
            _cue(
                rf"\b(?:feel|feels|feeling|felt) {_gap(2)}(?:like|as if|as though) {_gap(2)}"
                r"(?:going to|about to) die\b",
                in_questions=True,
            ),
            _cue(
                r"\b(?:i am|i think i am|he is|i feel like i am|i think he is|he looks like he is)"
                r" (?:really )?dying\b",
                not_after=r"^(?:to|for|of)\b",
                in_questions=True,
            ),
            _cue(r"\bsepsis\b"),
            *(
                _cue(
                    p,
                    gate=_at_least_hours(lambda t: t.sepsis_no_urine_hours, False),
                    not_after=(
                        r"^(?:properly|normally|well|much|as much|as often|a lot|very much"
                        r"|at night|standing|without)\b"
                    ),
                )
                for p in (*_NO_URINE_CUES, _INABILITY)
            ),
        ),
    ),
    Rule(
        "suicidal_thoughts",
        "emergency",
        "Thoughts of suicide or self-harm.",
        "I am really sorry you are feeling like this, and I am glad you told me. "
        "You can talk to {crisis_line_name} on {crisis_line_phone} at any time, day or night. "
        "If you might act on these thoughts, or you are not safe right now, that is an "
        "emergency. {urgency_emergency}",
        (
            _cue(r"\b(?:kill|killing) (?:myself|himself|my self)\b", in_questions=True),
            _cue(
                r"\b(?:want to|wanted to|wanting to|going to|thinking about|thinking of"
                r"|thought about|thought of|thoughts of|thoughts about|urge to|urges to"
                r"|feel like|felt like|feeling like|tempted to|plan to|planning to|planned to"
                r"|tried to|been|keep|started|start) (?:really )?(?:hurt|harm|cut|injure"
                r"|hurting|harming|cutting|injuring) (?:myself|himself)\b",
                not_after=(
                    r"^(?:lifting|if|by|when|doing|with|on|playing|exercising|cycling|driving"
                    r"|accidentally|at|in)\b"
                ),
                in_questions=True,
            ),
            _cue(
                r"\b(?:end|ending|take|taking) (?:it all|my (?:own )?life|his (?:own )?life)\b",
                in_questions=True,
            ),
            _cue(
                rf"\b(?:want|wanted|going|thinking|thought|think|plan|planning) {_gap(1)}"
                r"(?:about |of )?(?:to )?(?:end|ending) (?:it|things|everything)\b",
                in_questions=True,
            ),
            _cue(
                r"\b(?:do not|not|no longer) (?:really )?(?:want|wish) to (?:live|be alive"
                r"|be here|go on|carry on|wake up|exist)\b",
                not_after=r"^with\b",
                in_questions=True,
            ),
            _cue(
                rf"\b(?:wish|wishing|want|wanted) {_gap(2)}(?:i was|i were|to be|he was)"
                r" (?:dead|gone|not here|not alive)\b",
                in_questions=True,
            ),
            _cue(r"\b(?:want|wanted|wanting) to die\b", in_questions=True),
            _cue(r"\bbetter off (?:dead|without me|gone)\b", in_questions=True),
            _cue(
                rf"\b(?:no|not any|nothing to) (?:point|reason) {_gap(2)}(?:living|to live"
                r"|going on|carrying on|being alive|being here)\b",
                in_questions=True,
            ),
            _cue(r"\b(?:suicidal|suicide|overdose|self harm|self harming)\b"),
        ),
    ),
    # -- Urgent --------------------------------------------------------------------------
    Rule(
        "catheter_not_draining",
        "urgent",
        "Catheter not draining after checking for kinks and that the bag is below the bladder.",
        "This needs checking now. First make sure the tube is not kinked or squashed and that "
        "the bag is below your bladder. If it still is not draining: " + _ON_CALL,
        (
            _cue(
                rf"\b{_CATH_OR_BAG} {_gapnn(3)}(?:not|stopped|stop|stops|no longer|barely"
                rf"|hardly) {_gap(2)}{_DRAIN}\b",
                not_within=r"\bnot (?:stopped|stop)\b",
            ),
            _cue(rf"\b{_CATH_OR_BAG} {_gapnn(3)}(?:blocked|clogged|bunged|plugged)\b"),
            _cue(rf"\b(?:blocked|clogged|bunged up) {_gap(1)}{_CATH}\b"),
            _cue(
                rf"\bnothing {_gap(4)}(?:coming|come|comes|came|going|goes|gone|went|draining"
                rf"|drained|drains|in|into) {_gap(4)}{_CATH_OR_BAG}\b"
            ),
            _cue(
                rf"\b(?:no|not|hardly|barely) (?:been |had |seen |any |a drop of |much |a lot of "
                r"|a single drop of |anything )*(?:urine|pee|wee) (?:has |have )?(?:gone |going "
                r"|coming |draining |come |came |went |drained )?(?:in|into|in to|through|from"
                rf"|out of|down) (?:the |my |his )?{_CATH_OR_BAG}\b"
            ),
            _cue(rf"\b{_BAG} {_gapnn(3)}(?:empty|dry|bone dry)\b"),
        ),
    ),
    Rule(
        "catheter_bypassing_with_pain",
        "urgent",
        "Urine leaking around the catheter with belly pain or little urine in the bag.",
        "Urine leaking around the catheter, with belly pain or little urine going into the "
        "bag, can mean the catheter is blocked, and needs checking now. Check the tube is not "
        "kinked and the bag is below your bladder, then: " + _ON_CALL,
        (
            _cue(
                rf"\b(?:leaking|leaks|leak|leaked|dribbling|dribbles|seeping|coming out|coming"
                rf"|bypassing|escaping|spurting|oozing|wet) {_gap(3)}(?:around|round|past|beside"
                rf"|alongside|outside|by the side of) (?:the |my |his )?(?:tip of (?:the )?)?"
                rf"{_CATH}\b",
                gate=_now(_mentions(f"{_BELLY_PAIN}|{_LITTLE_IN_BAG}")),
            ),
            _cue(
                rf"\b{_CATH} {_gapnn(3)}(?:bypassing|leaking|leaks)\b",
                gate=_now(_mentions(f"{_BELLY_PAIN}|{_LITTLE_IN_BAG}")),
            ),
        ),
    ),
    Rule(
        "catheter_fallen_out",
        "urgent",
        "Catheter fallen out.",
        "Please do not try to put the catheter back in yourself. "
        + _ON_CALL
        + " The team needs to check you and may need to put a new one in.",
        (
            _cue(
                rf"\b{_CATH} {_gapnn(3)}(?:fell|fallen|falls|fall|falling|slipped|slid|slipping"
                r"|dropped|popped|pulled|yanked|worked its way|working its way)"
                r" (?:right |all the way |straight |half |partly |partway )?out\b"
            ),
            _cue(rf"\b{_CATH} {_gapnn(2)}(?:half|partly|partway|part way) out\b"),
            _cue(
                rf"\b{_CATH} {_gapnn(3)}(?:come|came|comes|coming) (?:right |all the way "
                r"|straight )?out\b",
                not_within=r"\bwhere\b",
                not_before=(
                    rf"\b(?:since|after|once|when|before|until|till|day|days|week|weeks|was"
                    rf"|were|had|got|having|ago|because) {_gap(3)}$"
                ),
                not_after=(
                    r"^(?:on|yesterday|tomorrow|later|next|last|at|in (?:the )?clinic|in hospital"
                    r"|by|with|\d|two|three|a few|few|ok|okay|fine|without|as planned|today at"
                    r"|this week"
                    r"|days|weeks|a (?:week|day|couple|fortnight)|an hour|last week)\b"
                ),
            ),
            _cue(
                rf"\b(?:i|he|accidentally|accidently) {_gap(2)}(?:pulled|yanked|ripped|tugged"
                rf"|caught|knocked) {_gap(2)}{_CATH} {_gap(1)}out\b"
            ),
        ),
    ),
    Rule(
        "cannot_pass_urine",
        "urgent",
        "Unable to pass urine after catheter removal, or severe pain trying.",
        "Not being able to pass urine, or severe pain when you try, needs checking now. "
        "Do not push or strain. " + _ON_CALL,
        (
            _cue(_INABILITY),
            *(
                _cue(
                    p,
                    gate=_at_least_hours(lambda t: t.no_urine_hours_after_removal, True),
                    not_after=r"^(?:much|as much|as often|a lot|very much|at night)\b",
                )
                for p in _NO_URINE_CUES
            ),
            _cue(
                rf"\b(?:try|trying|tried|go|going|went) {_gap(3)}{_PASS} {_gap(4)}nothing"
                rf" {_gap(2)}(?:comes|came|coming|happens|happened|happening)\b"
            ),
            _cue(rf"\bnothing {_gap(2)}(?:comes|came|coming|will come) out {_gap(4)}{_PASS}\b"),
            _cue(
                rf"\b(?:agony|agonising|agonizing|excruciating|unbearable|severe pain"
                rf"|terrible pain|awful pain|really painful|very painful|so painful"
                rf"|extremely painful|too painful|killing me) {_gap(4)}(?:when|while|trying"
                rf"|try|to) {_gap(2)}{_PASS}\b"
            ),
            _cue(
                rf"\b(?:trying|try|tried) {_gap(2)}{_PASS} {_gap(6)}(?:agony|agonising"
                r"|agonizing|excruciating|unbearable|killing me)\b"
            ),
            _cue(
                rf"\bbladder {_gap(4)}(?:bursting|burst|about to (?:burst|pop|explode)"
                r"|going to (?:burst|pop|explode)|so full|really full|full to bursting)\b"
            ),
            _cue(
                rf"\b(?:desperate|busting|bursting|need|needing) (?:for|to) {_gap(1)}(?:wee|pee"
                rf"|go) {_gap(3)}(?:can not|could not|nothing|will not come|unable)\b"
            ),
        ),
    ),
    Rule(
        "flank_pain_with_fever",
        "urgent",
        "Pain in the side or back with a fever or vomiting (possible kidney problem).",
        "Pain in your side or back together with a temperature or being sick can mean a "
        "kidney problem, and needs checking now. " + _ON_CALL,
        (
            _cue(
                rf"\b(?:pain|pains|painful|ache|aching|aches|hurts|hurting|sore|soreness"
                rf"|throbbing|stabbing) {_gap(3)}(?:in|down|on|across|round) (?:my |his |the )?"
                r"(?:left |right |lower |one )?(?:side|sides|back|loin|loins|flank|flanks|kidney"
                r"|kidneys)\b",
                not_after=r"^(?:of|passage|teeth|tooth|step|seat|garden)\b",
                gate=_now(_mentions(_FEVERISH)),
            ),
            _cue(
                rf"\b(?:side|back|loin|flank|kidney|kidneys) {_gapnn(3)}(?:pain|pains|hurts"
                r"|hurting|aching|aches|sore|killing me|agony|throbbing)\b",
                not_before=r"\b(?:passage|bottom|leg|legs|calf|knee|neck) $",
                gate=_now(_mentions(_FEVERISH)),
            ),
        ),
    ),
    Rule(
        "fever",
        "urgent",
        "Temperature at or above the clinic's fever threshold, or shivering chills.",
        "A temperature of {fever_celsius} degrees Celsius ({fever_fahrenheit} Fahrenheit) or "
        "more after this operation needs checking now. "
        + _ON_CALL
        + " Shaking you cannot stop, confusion or feeling very unwell is an emergency: "
        "{urgency_emergency}",
        (
            _cue(
                r"\b(?:fever|fevers|feverish|febrile|pyrexia|high temperature|raised temperature"
                r"|burning up|hot and cold|hot and shivery|hot and shaky|cold and shivery"
                r"|shivery|shivers|shivering|chills|the sweats and chills)\b",
                gate=_no_low_reading,
            ),
            _cue(
                rf"\b(?:i|he|she|we|dad|husband|partner) {_gapnn(3)}(?:have|has|had|got"
                r"|getting|running|run|developed|spiked|with) (?:a |an )?(?:bit of a |slight "
                r"|very |really )?(?:high )?temperature\b",
                gate=_no_low_reading,
            ),
            _cue(
                rf"\btemperature {_gapnn(3)}(?:high|up|raised|through the roof|sky high|spiking"
                r"|rising|going up)\b",
                gate=_no_low_reading,
            ),
        ),
        detector=_fever_reading,
    ),
    Rule(
        "new_breathlessness_mild",
        "urgent",
        "New breathlessness after the operation, even if mild (possible early blood clot).",
        "New breathlessness after an operation, even mild, can be an early sign of a blood "
        "clot in the lungs, and needs checking now. "
        + _ON_CALL
        + " If it gets worse or you get chest pain, that is an emergency: {urgency_emergency}",
        (
            _cue(
                rf"\b{_MILD} (?:short of breath|breathless|out of breath|puffed|puffed out"
                r"|winded|more breathless|wheezy)\b",
                gate=_now(_new_breathlessness),
            ),
            _cue(
                r"\b(?:getting|get|gets|got|go|goes|feel|feels|feeling|felt|been|becoming"
                r"|became|more) (?:a little |a bit |slightly )?(?:out of breath|puffed out"
                r"|breathless|short of breath|winded)\b",
                gate=_now(_new_breathlessness),
            ),
            _cue(r"\bbreathless(?:ness)? (?:is )?(?:new|since)\b", gate=_now(_new_breathlessness)),
        ),
    ),
    Rule(
        "calf_clot_signs",
        "urgent",
        "One calf painful, swollen, warm or red: possible blood clot (DVT).",
        "A painful, swollen, warm or red calf after an operation can be a sign of a blood "
        "clot and needs checking now. "
        + _ON_CALL
        + " Chest pain or breathlessness with it is an emergency: {urgency_emergency}",
        (
            _cue(
                rf"\b(?:calf|leg(?! bag| strap)|shin|one of (?:my|his) (?:legs|calves)"
                rf"|(?:left|right|one) (?:legs|calves)) {_gapnn(4)}{_LEG_SYMPTOM}\b",
                not_within=(
                    r"\b(?:mark|marks|strap|straps|rash|bruise|bruised|bruising|scratch"
                    r"|stocking|stockings|sock|socks|cramp|cramps|tired|restless|both)\b"
                ),
                not_after=(
                    rf"^{_gap(3)}(?:gone down|going down|better|settled|eased|easing"
                    r"|improved|improving|went down)\b"
                ),
            ),
            _cue(
                rf"\b{_LEG_SYMPTOM} {_gap(3)}(?:in |on |behind |of |down )?(?:my |his |the "
                rf"|her )?(?:left |right |lower )?(?:calf|leg(?! bag| strap)|shin)\b",
                not_within=(
                    r"\b(?:mark|marks|strap|straps|rash|bruise|bruised|bruising|scratch"
                    r"|stocking|stockings|sock|socks|cramp|cramps|tired|restless|both)\b"
                ),
                not_after=(
                    rf"^{_gap(3)}(?:gone down|going down|better|settled|eased|easing"
                    r"|improved|improving|went down)\b"
                ),
            ),
            _cue(
                rf"\b(?:blood clot|clot|dvt|thrombosis) {_gap(2)}(?:in )?(?:my |his |the )?"
                rf"(?:left |right )?(?:calf|leg|shin)\b"
            ),
            _cue(
                r"\b(?:think|might|may|got|have|has|could be|probably|it is) (?:got )?(?:a )?"
                r"(?:dvt|deep vein thrombosis)\b"
            ),
        ),
    ),
    Rule(
        "clots_or_red_urine",
        "urgent",
        "Blood clots in the urine (not a few small ones), or bright red or burgundy urine: at "
        "once while the catheter is in, otherwise once it outlasts the clinic's threshold.",
        "Blood clots in your urine, or urine that is bright red or as dark as red wine, "
        "need checking now. "
        + _ON_CALL
        + " Heavy bleeding that will not stop is an emergency: {urgency_emergency}",
        (
            _cue(
                rf"\b(?:clot|clots|clotting|lumps of blood|blood lumps|bits of blood"
                rf"|blobs of blood|clumps of blood) {_gap(4)}(?:urine|pee|wee|bag|catheter"
                r"|tube|toilet|water|bladder)\b",
                not_within=r"\b(?:prevent|prevents|preventing|avoid|stop|stops|reduce|risk)\b",
                not_before=_SMALL_CLOTS_BEFORE,
            ),
            _cue(
                rf"\b(?:urine|pee|wee|bag|catheter|tube) {_gapnn(4)}(?:clot|clots|lumps|clumps"
                r"|blobs)\b",
                not_within=(
                    r"\b(?:prevent|prevents|preventing|avoid|stop|stops|reduce|risk|small|tiny"
                    r"|little|specks|speck)\b"
                ),
            ),
            _cue(r"\bpass\w* (?:some |big |lots of |a few |blood )?clots\b"),
            _cue(rf"\b{_CATH_OR_BAG} {_gapnn(3)}(?:full of|filled with|pure|just|all) blood\b"),
            _cue(
                rf"\b(?:urine|pee|wee|bag|water) {_gapnn(5)}{_URINE_COLOUR}\b",
                gate=_red_urine,
            ),
            _cue(
                rf"\b{_STRONG_RED} {_gap(2)}(?:urine|pee|wee|blood|bag)\b",
                gate=_red_urine,
                not_after=(
                    rf"^{_gap(3)}(?:when i wipe|from my bottom|from (?:my |the )?back passage"
                    r"|in my (?:poo|stool)|on the (?:toilet paper|tissue))"
                ),
            ),
            _cue(
                rf"\b(?:lots of|a lot of|lot of|loads of|so much|heavy|plenty of|full of) blood"
                rf" {_gap(2)}(?:in|into) (?:the |my |his )?(?:urine|pee|wee|bag|catheter"
                r"|toilet)\b"
            ),
        ),
    ),
    Rule(
        "rectal_injury_signs",
        "urgent",
        "Faeces or air bubbles in the urine, or urine from the back passage (possible "
        "injury to the bowel).",
        "Poo or air bubbles in your urine, or urine coming from your back passage, can mean "
        "the bowel near the join was hurt, and needs checking now. "
        + _ON_CALL
        + " If you also feel very unwell, shivery or confused, that is an emergency: "
        "{urgency_emergency}",
        (
            _cue(
                rf"\b(?:poo|poop|faeces|feces|stool|bits of poo|brown bits|poo bits|faecal|fecal"
                rf"|poo like bits) {_gap(3)}(?:in|into|coming out (?:in|with)|mixed with)"
                r" (?:my |his |the )?(?:urine|pee|wee|bag|catheter|water|catheter bag)\b",
                gate=_current,
            ),
            _cue(
                r"\b(?:air bubbles|bubbles of air|bubbles|air|gas|wind) (?:are |is )?(?:coming |"
                r"passing |going )?(?:in|into|through|out of|out through|from) (?:my |his |the )?"
                r"(?:urine|pee|wee|catheter|tube|bag|penis|willy)\b",
                not_before=r"\b(?:pass|passing|passed) $",
                gate=_current,
            ),
            _cue(
                rf"\b(?:urine|pee|wee|water|watery fluid) {_gap(3)}(?:from|out of|coming out of"
                rf"|leaking from|leaking out of|through) (?:my |his |the )?(?:back passage|bottom"
                r"|bum|rectum|anus|backside|back side|back end)\b",
                gate=_current,
            ),
            _cue(
                rf"\b(?:peeing|weeing|urinating|passing urine|passing water) {_gap(2)}(?:from"
                r"|out of|through) (?:my |his |the )?(?:back passage|bottom|bum|rectum|anus"
                r"|backside)\b",
                gate=_current,
            ),
        ),
    ),
    Rule(
        "urine_from_wound",
        "urgent",
        "Urine, or a lot of clear fluid, leaking from a wound or drain site.",
        "Urine, or a lot of clear fluid, coming from a wound or the drain site needs checking "
        "now. " + _ON_CALL + " Until then, cover it with a clean pad.",
        (
            _cue(
                rf"\b(?:urine|pee|wee) {_gap(4)}(?:from|out of|through) (?:my |his |the |a |one of "
                rf"(?:my |the |his )?)?(?:{_WOUND}|drain site|drain hole|drain wound|drain)\b",
                gate=_current,
            ),
            _cue(
                rf"\b(?:{_WOUND}|drain site|drain hole) {_gapnn(4)}(?:leaking|leaks|oozing|oozes"
                rf"|pouring|pours|dripping|drips|weeping|weeps|smells of|smelling of|gushing"
                rf"|soaking|soaked|running with) {_gap(3)}(?:urine|pee|wee"
                r"|(?:a lot of|lots of|loads of|so much|masses of|a load of|a stream of)"
                r" (?:clear |watery |yellow )?(?:fluid|liquid|water))\b",
                gate=_current,
            ),
            _cue(
                rf"\b(?:a lot of|lots of|loads of|so much|masses of|a load of) (?:clear |watery )?"
                rf"(?:fluid|liquid|water) {_gap(3)}(?:from|out of|coming out of|leaking from"
                rf"|through) (?:my |his |the |a |one of (?:my |the |his )?)?(?:{_WOUND}|drain site"
                r"|drain hole)\b",
                gate=_current,
            ),
        ),
    ),
    Rule(
        "wound_infection",
        "urgent",
        "Wound red, hot, smelly, leaking pus or opening.",
        "A wound that is red, hot, smelly, leaking pus or opening up needs checking now. "
        + _ON_CALL
        + " Until then, cover it with a clean dry dressing.",
        (
            _cue(
                rf"\b{_WOUND} {_gapnn(4)}{_WOUND_SIGN}\b",
                not_after=(
                    rf"^{_gap(4)}(?:better|gone down|settled|improving|improved|healed|fine"
                    r"|normal|gone now)\b"
                ),
            ),
            _cue(
                rf"\b(?:pus|pussy|smelly|infected|inflamed|oozing|weeping|gaping|stinking)"
                rf" {_gap(3)}{_WOUND}\b"
            ),
            _cue(rf"\bpus {_gap(2)}(?:coming|oozing|leaking|seeping)\b"),
        ),
    ),
    Rule(
        "bowel_obstruction_signs",
        "urgent",
        "No wind or stools with a swollen belly or vomiting (possible blocked bowel).",
        "A swollen belly with no wind or poo, or being sick with no wind or poo, can mean "
        "the bowel is blocked, and needs checking now. " + _ON_CALL,
        (
            _cue(_NO_BOWEL, gate=_now(_mentions(f"{_SWOLLEN_BELLY}|{_VOMITING}"))),
            _cue(
                r"\b(?:blocked|obstructed) (?:bowel|bowels|gut|intestine)\b",
                gate=_now(_mentions(f"{_SWOLLEN_BELLY}|{_VOMITING}")),
            ),
        ),
    ),
    Rule(
        "severe_belly_pain_or_vomiting",
        "urgent",
        "Severe or worsening belly pain, a swollen hard belly, or vomiting that will not stop.",
        "Severe or worsening belly pain, a swollen hard belly, or being sick again and again "
        "needs checking now. "
        + _ON_CALL
        + " Fainting or collapsing with it is an emergency: {urgency_emergency}",
        (
            _cue(
                rf"\b{_SEVERE} {_gap(2)}(?:pain|pains|ache|aches|cramps|cramping|stomach ache"
                rf"|tummy ache|bellyache) {_gap(3)}{_BELLY}\b",
                not_within=r"\b(?:wind|gas|trapped)\b",
            ),
            _cue(
                rf"\b{_SEVERE} {_gap(1)}{_BELLY} {_gap(1)}(?:pain|pains|ache|aches|cramps"
                r"|cramping)\b",
                not_within=r"\b(?:wind|gas|trapped)\b",
            ),
            _cue(
                rf"\b{_BELLY} {_gapnn(3)}(?:pain|pains|ache|aches|hurts|hurting|hurt|cramps"
                rf"|cramping) {_gap(4)}(?:severe|terrible|awful|unbearable|agony|agonising"
                r"|excruciating|getting worse|worse and worse|worse|worsening|really bad"
                r"|so bad|killing me)\b",
            ),
            _cue(
                rf"\b(?:pain|ache) {_gap(2)}(?:in )?(?:my |his |the )?{_BELLY} {_gap(3)}"
                r"(?:getting worse|worse and worse|worsening|worse|severe|unbearable"
                r"|really bad)\b"
            ),
            _cue(
                rf"\b{_BELLY} {_gapnn(3)}(?:killing me|in agony|agony|excruciating"
                r"|unbearable)\b"
            ),
            _cue(
                rf"\b{_BELLY} {_gapnn(4)}(?:hard|rigid|distended|tight as a drum|rock hard)\b",
                not_after=r"^(?:to|work)\b",
            ),
            _cue(rf"\b(?:hard|rigid|distended|swollen hard) {_gap(1)}{_BELLY}\b"),
            _cue(
                rf"\b(?:vomiting|throwing up|being sick|been sick|vomited|threw up|thrown up"
                rf"|retching) {_gap(3)}(?:all night|all day|all morning|all evening|non stop"
                r"|nonstop|constantly|continuously|over and over|again and again|repeatedly"
                r"|every hour|for hours|for (?:\d+|a|two|three|several|many) (?:hours|days)"
                r"|since|(?:\d+|several|many|lots of|loads of|a few|few|five|six|seven|eight"
                r"|ten) times)\b"
            ),
            _cue(
                rf"\b(?:can not|could not|unable to|not able to|will not) {_gap(1)}(?:keep"
                r"|hold) (?:anything|any food|any water|any fluids|food|water|fluids|drinks"
                r"|it|a thing) down\b"
            ),
            _cue(
                r"\b(?:can not|could not|will not) stop (?:vomiting|being sick|throwing up"
                r"|retching)\b"
            ),
            _cue(
                r"\b(?:keep|keeps|kept) (?:on )?(?:vomiting|being sick|throwing up"
                r"|retching)\b"
            ),
            _cue(
                rf"\b(?:vomiting|sickness|being sick) {_gap(3)}(?:will not|would not|does not"
                r"|not) stop\b"
            ),
        ),
    ),
    Rule(
        "anticoagulant_bleeding",
        "urgent",
        "A large bruise that keeps spreading (on blood-thinning injections).",
        "A large bruise that keeps spreading, especially on blood-thinning injections, needs "
        "checking now. " + _ON_CALL,
        (
            _cue(
                rf"\b(?:bruise|bruises|bruising|bruised) {_gapnn(4)}(?:spreading|spread|spreads"
                r"|getting bigger|growing|grown|keeps growing|getting larger|bigger and bigger"
                r"|bigger every|all over)\b",
                gate=_now(
                    _either(
                        _mentions(_ANTICOAGULANT),
                        _mentions(r"\b(?:huge|massive|enormous|large|big|giant)\b"),
                    )
                ),
            ),
            _cue(
                rf"\b(?:huge|massive|enormous|giant|large|spreading) {_gap(1)}(?:bruise|bruises"
                r"|bruising)\b",
                gate=_now(_mentions(_ANTICOAGULANT)),
            ),
        ),
    ),
    Rule(
        "scrotal_swelling",
        "urgent",
        "Scrotum swelling fast, tense or very painful (the 'call your nurse today' level).",
        "A scrotum that swells up fast, or becomes tight and tense or very painful, should "
        "be checked today. " + _TODAY,
        (
            _cue(
                rf"\b(?:scrotum|testicles|testicle|testes|balls|ball sack|ballsack|nuts|sack"
                rf"|bollocks|privates) {_gapnn(4)}(?:(?:swelling|swelled|swollen|swells|swell)"
                r"(?: up)? (?:really |very |so )?(?:fast|quickly|rapidly|overnight|suddenly)"
                r"|ballooned|ballooning|blown up|blowing up|tight|tense"
                r"|rock hard|shiny|(?:very|really|so|extremely|incredibly) (?:painful|sore|tender)"
                r"|agony|killing me|size of (?:a|an) [a-z]+)\b",
                not_after=rf"^{_gap(3)}(?:gone down|going down|better|settled|eased|easing)\b",
                gate=_current,
            ),
            _cue(
                r"\b(?:very|really|extremely|hugely|massively|suddenly|rapidly|badly|incredibly)"
                r" (?:painful|tense|tight) (?:and [a-z]+ )?(?:scrotum|testicles|testicle"
                r"|balls)\b",
                gate=_current,
            ),
        ),
    ),
    # -- Routine -------------------------------------------------------------------------
    Rule(
        "urine_infection_signs",
        "routine",
        "Burning when passing urine lasting more than a few days after catheter removal, "
        "or other urine infection symptoms.",
        "Burning that lasts more than a few days after the catheter comes out, or other signs "
        "of a urine infection, should be checked by your care team. {urgency_routine} Drink "
        "plenty of water in the meantime. A temperature, shivers or feeling very unwell is "
        "more urgent: {urgency_urgent}",
        (
            _cue(
                rf"\b(?:burn|burns|burning|sting|stings|stinging|hurts|hurt|painful|scalding"
                rf"|scalds) {_gap(3)}(?:when|while|after|as) (?:i |he )?{_gap(1)}(?:pee"
                r"|wee|urinate|go|pass (?:urine|water)|peeing|weeing|urinating)\b",
                gate=_burning_persists,
            ),
            _cue(
                rf"\b(?:peeing|weeing|urinating|passing urine|passing water|pee|wee|urine)"
                rf" {_gapnn(3)}(?:burns|burning|stings|stinging|hurts|painful|scalds"
                r"|scalding)\b",
                gate=_burning_persists,
            ),
            _cue(r"\b(?:urine|water|bladder|kidney|urinary) infection\b|\buti\b|\bcystitis\b"),
            _cue(
                rf"\b(?:urine|pee|wee) {_gapnn(3)}(?:cloudy|smells|smelly|stinks|stinky|foul"
                r"|strong smelling|fishy)\b"
            ),
        ),
    ),
    Rule(
        "low_mood",
        "routine",
        "Low mood or feeling depressed (not suicidal).",
        "Thank you for telling me how you are feeling. Low mood is common after prostate "
        "cancer treatment, and your care team can help. {urgency_routine} If you ever have "
        "thoughts of harming yourself, call {crisis_line_name} on {crisis_line_phone}, day or "
        "night.",
        (
            _cue(
                rf"\b(?:feel|feels|feeling|felt) {_gapnn(2)}(?:down|low|really sad|so sad"
                r"|very sad|awful in myself)\b",
                not_after=r"^(?:on|in|at|to|about the|there|here|below|under|energy)\b",
                not_before=(
                    rf"\b(?:bladder|bowel|bowels|stomach|tummy|belly|bag|penis|pressure|sugar"
                    rf"|energy|it|that|this|leg|legs|he|she) {_gap(1)}$"
                ),
            ),
            _cue(
                rf"\b(?:i|he|she|we) {_gapnn(3)}(?:depressed|hopeless|miserable|worthless"
                r"|tearful|in despair)\b"
            ),
            _cue(
                r"\b(?:depression|depressed|low mood|cry all the time|crying all the time"
                r"|keep crying|can not stop crying|no motivation|lost interest in everything"
                r"|no interest in anything|can not enjoy anything|nothing to look forward to)\b"
            ),
        ),
    ),
)


# ---------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------


def _fires(cue: Cue, u: _Utterance, t: TriageThresholds) -> str | None:
    for m in cue.pattern.finditer(u.text):
        start = u.token_at(m.start())
        if u.conditional[start] or _negated(u, start):
            continue
        if u.question and not u.reported and not cue.in_questions:
            continue
        if cue.not_before and cue.not_before.search(u.text[: m.start()]):
            continue
        if cue.not_after and cue.not_after.search(u.text[m.end() :].lstrip()):
            continue
        if cue.not_within and cue.not_within.search(m[0]):
            continue
        if cue.gate and not cue.gate(u, t):
            continue
        return m[0].strip().replace(" ,", ",")
    return None


def _match(rule: Rule, u: _Utterance, clinic: ClinicConfig) -> str | None:
    for cue in rule.cues:
        matched = _fires(cue, u, clinic.triage)
        if matched:
            return matched
    if rule.detector is not None:
        return rule.detector(u, clinic)
    return None


def triage(text: str, clinic: ClinicConfig) -> RedFlag | None:
    """The most severe red flag the utterance reports, or None."""
    if not text or not text.strip():
        return None
    u = _utterance(text)
    if not u.tokens:
        return None
    for rule in sorted(RULES, key=lambda r: PRIORITY_ORDER[r.priority]):
        matched = _match(rule, u, clinic)
        if matched:
            return RedFlag(rule.id, rule.priority, rule.render(clinic), matched)
    return None


def flag_for_rule(rule_id: str, clinic: ClinicConfig, matched: str) -> RedFlag | None:
    """The red flag of the rule ``rule_id`` (its instruction and priority), if there is one.

    A rule id with two levels (``anticoagulant_bleeding``) takes the level whose own phrases
    match the words; otherwise the most severe.
    """
    candidates = [rule for rule in RULES if rule.id == rule_id]
    if not candidates:
        return None
    chosen = candidates[0]
    if len(candidates) > 1 and matched.strip():
        u = _utterance(matched)
        chosen = next((r for r in candidates if u.tokens and _match(r, u, clinic)), chosen)
    return RedFlag(chosen.id, chosen.priority, chosen.render(clinic), matched)


def rule_ids() -> frozenset[str]:
    return frozenset(rule.id for rule in RULES)


def reports_own_state(text: str) -> bool:
    """Whether the words tell of something happening to the speaker (or the man he speaks
    for), rather than ask in general or suppose ("if I get a fever ...")."""
    u = _utterance(text)
    if not u.tokens:
        return False
    words = [k for k, tok in enumerate(u.tokens) if tok not in _CLAUSE_END]
    if not words:
        return False
    supposed = sum(1 for k in words if u.conditional[k]) / len(words)
    if supposed >= 0.5:
        return False
    return not (u.question and not u.reported)


def count_word(word: str) -> float | None:
    """A duration's count said in words ("three", "a few", "a couple of"), or None."""
    value = _NUMBER_WORDS.get(word.lower())
    return None if value is None else float(value)
