"""The utterance as the rules see it: what is reported, asked, negated or supposed. Pure.

``read_utterance`` normalises the text once and works out whether it is a question,
which words sit inside a supposition ("if my catheter stops draining ..."), whether it
reports something happening now ("my wound is red", "since this morning"), and the
temperatures and durations it states. ``negated`` tells whether a negation governs a
phrase ("no fever").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from escalation.triage.normalise import joined, tokenise
from escalation.triage.readings import Temperature, hours_said, temperatures
from ingestion.text import word_set

CLAUSE_END = frozenset({",", ".", "?"})
_NEGATORS = frozenset({"no", "not", "never", "without", "nor", "neither", "none"})
_NOT_NEGATING_AFTER_NO = frozenset({"one", "idea", "clue", "doubt", "matter", "way", "problem"})
_NEGATION_STOP = word_set(
    "and but though although because however so then yet while whereas now except"
)
_SUBJECTS = frozenset({"i", "he", "she", "we", "they", "there"})
_RAISING = frozenset({"think", "believe", "reckon", "suppose", "guess", "say", "that", "feel"})
# "if" after these asks about the speaker's own state ("I wonder if my catheter is blocked").
_EPISTEMIC = word_set(
    "wondering wonder sure unsure know tell ask asking see check checking worried worry wondered"
)
_CONDITIONAL_CUES = word_set("if whether unless suppose supposing ever hypothetically incase")
_QUESTION_CONDITIONAL_CUES = word_set(
    "when whenever once after signs sign symptoms symptom counts count mean means"
)
_CONDITIONAL_END = frozenset({"but", "then", "however", "anyway"})
# "The nurse said my catheter might get blocked": a warning passed on, not a report.
_REPORTING = frozenset({"said", "says", "told", "warned", "explained", "mentioned", "read"})
_MODALS = frozenset({"might", "may", "could", "can", "would", "will", "should"})
_WH = frozenset({"what", "how", "which", "who", "why", "whom", "whose", "where", "when"})
_AUX = word_set(
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

STRONG_TIME = re.compile(
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
    STRONG_TIME,
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
class Utterance:
    """One utterance, normalised and analysed; ``text`` ends with a space."""

    text: str
    tokens: tuple[str, ...]
    offsets: tuple[int, ...]
    question: bool
    conditional: tuple[bool, ...]
    reported: bool
    readings: tuple[Temperature, ...]
    hours: float | None

    def token_at(self, char: int) -> int:
        """The index of the token at character ``char`` of ``text``."""
        return max(0, bisect_right(self.offsets, char) - 1)


def _body_start(tokens: list[str]) -> tuple[int, bool]:
    """Where the utterance proper starts, and whether its opening announced a question."""
    i = 0
    intro = False
    moved = True
    while moved and i < len(tokens):
        moved = False
        if tokens[i] in CLAUSE_END:
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
    tokens: list[str], question: bool, readings: tuple[Temperature, ...], skip: int | None
) -> list[bool]:
    scope = [False] * len(tokens)
    open_at: int | None = None
    regions: list[tuple[int, int]] = []
    for i, tok in enumerate(tokens):
        if tok in CLAUSE_END or tok in _CONDITIONAL_END:
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
            end = next((k for k in range(i, len(tokens)) if tokens[k] in CLAUSE_END), len(tokens))
            if _MODALS & set(tokens[i:end]):
                regions.append((i, end))
    measured = {r.index for r in readings if not r.comparator}
    for start, end in regions:
        region = " ".join(tokens[start:end])
        # A concrete time or measurement inside "if ..." means it is happening.
        if STRONG_TIME.search(region) or measured & set(range(start, end)):
            continue
        for k in range(start, end):
            scope[k] = True
    return scope


def read_utterance(text: str, normalised: str | None = None) -> Utterance:
    """Normalise and analyse ``text`` (see the module docstring); ``normalised`` is
    ``normalise(text)`` when the caller already has it."""
    if normalised is None:
        tokens_list, bounds = tokenise(text)
        words = joined(tokens_list, bounds, text.rstrip().endswith("?"))
    else:
        words = normalised.split()
    offsets: list[int] = []
    pos = 0
    for word in words:
        offsets.append(pos)
        pos += len(word) + 1
    spaced = " ".join(words) + " "
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
    readings = temperatures(tokens)
    conditional = _conditional_scope(words, question, readings, skip)
    masked = " ".join("_" if (conditional[k] or k < start) else tok for k, tok in enumerate(words))
    reported = any(m.search(masked) for m in _MARKERS) or any(
        not r.comparator and not conditional[r.index] for r in readings
    )
    return Utterance(
        text=spaced,
        tokens=tokens,
        offsets=tuple(offsets),
        question=question,
        conditional=tuple(conditional),
        reported=reported,
        readings=readings,
        hours=hours_said(spaced),
    )


def negated(u: Utterance, index: int) -> bool:
    """Whether a negation word governs the phrase starting at token ``index``."""
    for k in range(index - 1, max(-1, index - 8), -1):
        tok = u.tokens[k]
        if tok in CLAUSE_END or tok in _NEGATION_STOP:
            return False
        if tok in _NEGATORS:
            after = u.tokens[k + 1] if k + 1 < len(u.tokens) else ""
            if tok == "no" and after in _NOT_NEGATING_AFTER_NO:
                continue
            return True
        if tok in _SUBJECTS and k > 0 and u.tokens[k - 1] not in _RAISING and k < index - 1:
            return False
    return False
