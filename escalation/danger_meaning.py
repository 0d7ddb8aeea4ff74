"""A second danger-sign detector, independent of the rules: example phrasings by meaning.

The rules catch the words they were written for; patients say the same things in their own
words ("my scar is leaking what looks like pee"). Each red-flag rule has clinician-readable
example phrasings (``danger_phrasings.yaml``, plus the clinic's own), embedded once with
the model that answers questions. Each sentence and clause of a message is compared with
them; a sign fires when the closest example is close enough, closer than every look-alike,
of the same polarity (a denial never matches a report), and the clause reports something
happening to him now: not a general question, not a supposition, not another person's
illness or an old history.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escalation.clinic import RulePhrasings
from escalation.errors import ClinicConfigError
from escalation.triage import reports_own_state
from escalation.understanding import is_question

DEFAULT_PHRASINGS_FILE = Path(__file__).with_name("danger_phrasings.yaml")

Embed = Callable[[Sequence[str]], np.ndarray]
"""Texts in, one L2-normalised row per text out."""

_NEGATION = re.compile(
    r"\b(?:no|not|never|nothing|none|without|cannot|can't|cant|won't|wont|isn't|isnt|hasn't"
    r"|hasnt|haven't|havent|didn't|didnt|doesn't|doesnt|don't|dont|aren't|wasn't|nor)\b",
    re.IGNORECASE,
)
_OTHER_PERSON = re.compile(
    r"^(?:\W*\w+\W+){0,3}?(?:my|our|a|his|her) (?:father|dad|mum|mom|mother|brother|sister"
    r"|friend|son|daughter|wife|neighbou?r|uncle|aunt|grand\w+|colleague|mate|cousin"
    r"|father-in-law|mother-in-law|dog|cat)(?:'s)?\b",
    re.IGNORECASE,
)
_OLD_HISTORY = re.compile(
    r"\b(?:years? ago|last year|in (?:19|20)\d\d|when i was (?:young|a child|a boy|younger)"
    r"|before (?:the|my|his) (?:operation|surgery|op)|used to|years back|decades? ago)\b",
    re.IGNORECASE,
)
_AHEAD = re.compile(
    r"\b(?:tomorrow|next (?:week|month|time|\w+day)|on (?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|is due|are due|scheduled|booked in|going to have|before (?:my|his|the) (?:operation|surgery)"
    r"|in (?:a|\d+|two|three|four|five|six|seven) (?:days?|weeks?))\b",
    re.IGNORECASE,
)
# Inside a question, only a clause that tells of his own state counts ("is it normal that
# my calf is swollen?"), not one that merely names his things ("which bag for my catheter?").
_DISCLOSURE = re.compile(
    r"\b(?:(?:my|his) \w+(?: \w+)? (?:is|are|was|were|has|have|had|keeps?|looks?|feels?"
    r"|seems?|won't|will not|isn't|is not|hasn't|has not|can't|cannot|stopped|came|fell|hurts?)"
    r"|(?:i|he) (?:have|has|had|am|is|was|keep|keeps|can't|cannot|can not|feel|feels|felt"
    r"|noticed|started|woke|haven't|hasn't|have not|has not)"
    r"|i'm|i've|he's|there's|there (?:is|are|was|were|has been|have been)|(?:is|are) there)\b",
    re.IGNORECASE,
)
_SUBORDINATE_START = re.compile(r"^\W*(?:when|whenever|if|while|as|after|before|since)\b", re.I)
_LONG_AGO = re.compile(
    r"\b(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|several"
    r"|a couple of) (?:months?|years?) (?:ago|back)\b|\blast (?:month|year)\b",
    re.IGNORECASE,
)
_NOW = re.compile(
    r"\b(?:now|today|tonight|this (?:morning|afternoon|evening|week)|yesterday|last night"
    r"|since|still|currently|at the moment|right now|keeps?|started|for the (?:last|past))\b",
    re.IGNORECASE,
)
_SOMEONE_ELSE = re.compile(
    r"^\W*(?:\w+\W+){0,2}?my (?:\w+ ){0,3}?(?:wife|mother|mum|mom|daughter|sister|aunt"
    r"|grandmother|granny|niece|girlfriend|friend|neighbou?r|colleague|son|brother|father|dad"
    r"|uncle|cousin|nephew)\b",
    re.IGNORECASE,
)
_HIM = re.compile(
    r"\b(?:prostat\w*|catheter|my (?:husband|partner|boyfriend)|robotic|keyhole)\b", re.IGNORECASE
)
_CLAUSE_BREAK = re.compile(
    r",\s*(?:and|but|so|then)\s+|;\s*|\s+but\s+|,\s+(?=(?:i|my|he|his|it|the|there)\b)"
    r"|\s+and (?=(?:now|since|today|tonight|then|suddenly|i|my|he|his|it|the|there)\b)",
    re.IGNORECASE,
)
MAX_CANDIDATES = 16


class Phrasings(BaseModel):
    """Example phrasings per rule id, and look-alikes shared by every rule."""

    model_config = ConfigDict(frozen=True)

    rules: dict[str, RulePhrasings]
    look_alikes: list[str] = Field(default_factory=list)

    def merged(self, extra: Mapping[str, RulePhrasings], extra_not: Sequence[str]) -> Phrasings:
        rules = dict(self.rules)
        for rule, more in extra.items():
            known = rules.get(rule, RulePhrasings())
            rules[rule] = RulePhrasings(says=[*known.says, *more.says])
        return Phrasings(rules=rules, look_alikes=[*self.look_alikes, *extra_not])


def load_phrasings(path: Path | None = None) -> Phrasings:
    source = path or DEFAULT_PHRASINGS_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ClinicConfigError(f"danger-sign phrasings {source} cannot be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise ClinicConfigError(f"danger-sign phrasings {source} must be a mapping")
    look_alikes = raw.pop("not", [])
    try:
        rules = {str(k): RulePhrasings.model_validate(v) for k, v in raw.items()}
        return Phrasings(rules=rules, look_alikes=list(look_alikes))
    except ValidationError as exc:
        raise ClinicConfigError(f"danger-sign phrasings {source} are invalid: {exc}") from exc


@dataclass(frozen=True)
class MeaningMatch:
    rule: str
    similarity: float
    """Cosine similarity to the closest example phrasing of ``rule``."""
    look_alike: float
    """Cosine similarity to the closest look-alike."""
    clause: str
    example: str


def about_someone_else(sentences: Sequence[str]) -> bool:
    """A message that opens on another person's illness and never speaks of the man after
    prostate surgery (a wife's gallbladder operation, a father's heart attack)."""
    if not sentences or not _SOMEONE_ELSE.search(sentences[0]):
        return False
    return not any(_HIM.search(s) for s in sentences)


def clauses(sentences: Sequence[str]) -> list[str]:
    """Each sentence and, for long ones, its clauses: one sign may sit inside a long sentence.

    A sentence set months or years ago keeps only the clauses that bring it to now ("I had
    the operation three months ago and now my calf is swollen").
    """
    if about_someone_else(sentences):
        return []
    out: dict[str, None] = {}
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence:
            continue
        parts = [sentence]
        if len(sentence.split()) > 8:
            parts += [p.strip(" ,;") for p in _CLAUSE_BREAK.split(sentence) if len(p.split()) >= 3]
        old = bool(_LONG_AGO.search(sentence))
        for part in parts:
            if old and (_LONG_AGO.search(part) or not _NOW.search(part)):
                continue
            out.setdefault(part, None)
    return list(out)[:MAX_CANDIDATES]


def speaks_of_him_now(clause: str) -> bool:
    """Reported, present (not long ago, not yet to come), and about the man himself (or the
    man a partner speaks for)."""
    if _OTHER_PERSON.search(clause) or _OLD_HISTORY.search(clause) or _AHEAD.search(clause):
        return False
    asked = clause.rstrip().endswith("?") or (
        is_question(clause) and not _SUBORDINATE_START.match(clause)
    )
    if asked and not _DISCLOSURE.search(clause):
        return False
    return reports_own_state(clause)


class MeaningDetector:
    """Holds the example vectors; ``closest`` compares a message's clauses with them."""

    def __init__(self, embed: Embed, phrasings: Phrasings) -> None:
        self._embed = embed
        examples: list[tuple[str, str]] = [
            (rule, text) for rule, p in phrasings.rules.items() for text in p.says
        ]
        self._rules = [rule for rule, _ in examples]
        self._texts = [text for _, text in examples]
        self._negated = np.array([bool(_NEGATION.search(t)) for t in self._texts])
        self._look_alikes = list(phrasings.look_alikes)
        every = self._texts + self._look_alikes
        vectors = embed(every) if every else np.zeros((0, 1), dtype=np.float32)
        self._vectors = vectors[: len(self._texts)]
        self._look_vectors = vectors[len(self._texts) :]

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(self._rules)

    def matches(
        self, candidates: Sequence[str], vectors: np.ndarray | None = None
    ) -> list[MeaningMatch]:
        """The closest example for each clause that speaks of him now.

        ``vectors`` are the clauses' embeddings when the caller already has them (the turn
        embeds them in one batch with the question).
        """
        chosen = [(i, c) for i, c in enumerate(candidates) if speaks_of_him_now(c)]
        if not chosen or not self._texts:
            return []
        if vectors is None:
            vectors = self._embed([c for _, c in chosen])
        else:
            vectors = vectors[[i for i, _ in chosen]]
        found: list[MeaningMatch] = []
        sims = vectors @ self._vectors.T
        looks = (
            (vectors @ self._look_vectors.T).max(axis=1)
            if len(self._look_alikes)
            else np.zeros(len(chosen))
        )
        for row, (_, clause) in enumerate(chosen):
            negated = bool(_NEGATION.search(clause))
            same = self._negated == negated
            if not same.any():
                continue
            scores = np.where(same, sims[row], -1.0)
            k = int(scores.argmax())
            found.append(
                MeaningMatch(
                    rule=self._rules[k],
                    similarity=round(float(scores[k]), 4),
                    look_alike=round(float(looks[row]), 4),
                    clause=clause,
                    example=self._texts[k],
                )
            )
        return found


@dataclass(frozen=True)
class MeaningThresholds:
    """Fitted on the calibration halves (``aftercare eval --calibrate``)."""

    rule: float = 0.64
    """At or above: the matched rule's own instruction and priority."""
    check: float = 0.59
    """At or above, with a danger-sign section of the guides retrieved: 'needs checking today'."""
    margin: float = 0.02
    """How much closer than the closest look-alike the example must be."""


def strongest(
    found: Sequence[MeaningMatch], thresholds: MeaningThresholds
) -> tuple[str, MeaningMatch] | None:
    """('rule', match) when a clause surely names a sign, ('check', match) when it needs the
    guides' support, else None. Clauses no closer to a sign than to a look-alike never count."""
    qualified = [m for m in found if m.similarity - m.look_alike >= thresholds.margin]
    if not qualified:
        return None
    best = max(qualified, key=lambda m: m.similarity)
    if best.similarity >= thresholds.rule:
        return "rule", best
    if best.similarity >= thresholds.check:
        return "check", best
    return None
