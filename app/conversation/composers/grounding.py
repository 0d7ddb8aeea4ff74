"""Is a generated sentence supported by the retrieved passages?

Two measures, combined: meaning (the best cosine between the sentence and any passage
sentence, with the embedding model) and wording (the share of the sentence's content
words that the passages contain). A number the passages do not hold (a dose, a day
count, a temperature) makes a sentence unsupported whatever its score: that is how an
invented dose or claim is caught even when the rest of the sentence sounds like the guide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ingestion.search import Passage
from ingestion.text import (
    NUMBER_TENS,
    NUMBER_UNITS,
    content_stems,
    split_sentences,
    stem,
    words,
)

Embed = Callable[[list[str]], NDArray[np.float32]]
Verdict = Literal[
    "supported", "weak", "unknown_number", "reversed", "attribution", "unknown_source"
]

SEMANTIC_WEIGHT = 0.6
_CLOSE = 0.08

# Words a spoken answer adds around the guide's content ("the guide says ...").
_FRAMING = frozenset(
    stem(w)
    for w in [
        "guide",
        "guides",
        "leaflet",
        "document",
        "says",
        "explains",
        "according",
        "advises",
        "recommends",
        "mentions",
        "suggests",
        "comes",
    ]
)
_NUMBER_WORDS = {
    **{word: str(value) for word, value in (NUMBER_UNITS | NUMBER_TENS).items()},
    "hundred": "100",
    "thousand": "1000",
    "half": "0.5",
    "twice": "2",
}
# The embedding model scores "You can take a bath" close to "Do not take a bath": a
# sentence that permits, where every close passage sentence forbids, is a reversal.
_FORBIDS = frozenset(
    [
        "not",
        "never",
        "avoid",
        "cannot",
        "can't",
        "don't",
        "doesn't",
        "mustn't",
        "shouldn't",
        "won't",
        "isn't",
        "aren't",
    ]
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+")
# "one" that is not a count: "no one", "one of them", "the one".
_NOT_A_COUNT_BEFORE = frozenset(["no", "any", "every", "each", "the", "that", "this", "which"])
_NOT_A_COUNT_AFTER = frozenset(["of", "another", "or"])
_TENS = frozenset(NUMBER_TENS)

# A permitting sentence is accepted against a forbidding guide sentence only when its
# condition is the guide's own end of the prohibition: "until the catheter is out" allows
# "once the catheter is out"; "while the catheter is in" allows "once it is out" (the
# opposite state), never "once it is in". The connective alone proves nothing.
_UNTIL = frozenset(["until", "till", "before", "unless"])
_AFTER = frozenset(["once", "after", "when", "whenever"])
_WHILE = frozenset(["while", "during", "whilst", "if"])
_CONNECTIVES = _UNTIL | _AFTER | _WHILE
_POLES = {
    "in": "in",
    "inserted": "in",
    "out": "out",
    "removed": "out",
    "on": "on",
    "off": "off",
    "with": "with",
    "without": "without",
    "open": "open",
    "closed": "closed",
    "healed": "healed",
    "unhealed": "unhealed",
}
_OPPOSITE = {
    "in": "out",
    "out": "in",
    "on": "off",
    "off": "on",
    "with": "without",
    "without": "with",
    "open": "closed",
    "closed": "open",
    "healed": "unhealed",
    "unhealed": "healed",
}
# Negations that do not forbid anything: "no need to wait", "don't worry".
_PERMISSIVE = re.compile(
    r"\b(?:(?:do not|don't|dont|no need to|needn't) (?:worry|panic|be worried)"
    r"|no (?:need|problem|problems|reason not to|reason|harm|worries)"
    r"|not (?:a problem|an issue|necessary|a worry)"
    r"|(?:do not|don't|does not|doesn't|will not|won't) (?:need|have) to"
    r"|nothing (?:wrong|to worry about)"
    r"|whether or not)\b"
)
_PERMITS = frozenset(["can", "may", "fine", "ok", "okay", "safe", "allowed", "free", "alright"])
_CLAUSES = re.compile(r"[,;:]| but | and then ")
_ATTRIBUTION = re.compile(
    r"^(?:this|that|it|all of this|all this)(?: all)? (?:comes?|is|was) (?:from|in) "
    r"(?:our|the|your) (?:guide|leaflet|document)s?(?: called| named| on)? (?P<title>.+)$"
)


@dataclass(frozen=True)
class Support:
    score: float
    doc_id: str | None
    supported: bool
    verdict: Verdict


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, as digits: '20 mg' and 'twenty milligrams' both give '20';
    'twenty-one' gives '21', 'two hundred' '200', 'one week' '1' (but not 'no one')."""
    found: set[str] = set()
    tokens = _NUMBER.findall(text.lower())
    skip = 0
    for i, token in enumerate(tokens):
        if skip:
            skip -= 1
            continue
        if token[0].isdigit():
            found.add(token.replace(",", "."))
            continue
        if token not in _NUMBER_WORDS:
            continue
        if token == "one" and (
            (i > 0 and tokens[i - 1] in _NOT_A_COUNT_BEFORE)
            or (i + 1 < len(tokens) and tokens[i + 1] in _NOT_A_COUNT_AFTER)
        ):
            continue
        value = _NUMBER_WORDS[token]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in _TENS and following in _NUMBER_WORDS and len(_NUMBER_WORDS[following]) == 1:
            value = str(int(value) + int(_NUMBER_WORDS[following]))
            skip = 1
        elif following in ("hundred", "thousand") and value.isdigit():
            value = str(int(value) * int(_NUMBER_WORDS[following]))
            skip = 1
        found.add(value)
    return found


def forbids(text: str) -> bool:
    return any(w in _FORBIDS for w in words(text))


def permits(text: str) -> bool:
    """Whether a sentence allows something: a clause with a 'can', 'fine', 'safe' ... and no
    real negation ('no need to wait' and 'don't worry' are not negations)."""
    plain = _PERMISSIVE.sub(" ", text.lower().replace("’", "'"))
    for clause in _CLAUSES.split(plain):
        found = words(clause)
        if any(w in _PERMITS for w in found) and not any(w in _FORBIDS for w in found):
            return True
    return not forbids(plain)


@dataclass(frozen=True)
class Condition:
    """The 'until/once/while ...' part of a sentence: its kind, content stems and states."""

    kind: Literal["until", "after", "while"]
    stems: frozenset[str]
    poles: frozenset[str]


def condition_of(text: str) -> Condition | None:
    """The first condition in the sentence: its connective and its clause (to the next
    punctuation mark or connective)."""
    for part in re.split(r"[,;:.!?]| but | and ", text.lower().replace("’", "'")):
        found = words(part)
        for i, word in enumerate(found):
            if word in _CONNECTIVES:
                return _condition(word, found[i + 1 :])
    return None


def _condition(word: str, rest: list[str]) -> Condition:
    clause: list[str] = []
    for w in rest:
        if w in _CONNECTIVES:
            break
        clause.append(w)
    kind: Literal["until", "after", "while"] = (
        "until" if word in _UNTIL else "after" if word in _AFTER else "while"
    )
    poles = frozenset(_POLES[w] for w in clause if w in _POLES)
    stems = frozenset(content_stems(" ".join(w for w in clause if w not in _POLES)))
    return Condition(kind, stems, poles)


def action_stems(text: str) -> set[str]:
    """What a sentence is about, without its condition clause and its framing."""
    condition = condition_of(text)
    return {
        s
        for s in content_stems(text)
        if s not in _FRAMING and (condition is None or s not in condition.stems)
    }


def consistent(permission: str, prohibition: str) -> bool:
    """Whether a permitting sentence only allows what a forbidding one leaves allowed."""
    allowed = condition_of(permission)
    forbidden = condition_of(prohibition)
    if allowed is None or forbidden is None or allowed.kind == "until":
        return False
    if not allowed.stems <= forbidden.stems:
        return False
    if forbidden.kind == "until":
        return allowed.kind == "after" and allowed.poles == forbidden.poles
    # Forbidden while (or after) a state: allowed only in the opposite state.
    opposite = frozenset(_OPPOSITE.get(p, p) for p in forbidden.poles)
    return bool(forbidden.poles) and allowed.poles == opposite


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower().replace("’", "'")).split())


class Grounds:
    """The passages of one request, embedded once, against which sentences are checked."""

    def __init__(
        self,
        passages: Sequence[Passage],
        sentences: Sequence[str],
        vectors: NDArray[np.float32],
        owners: Sequence[int],
        embed: Embed,
        threshold: float,
    ) -> None:
        self._passages = list(passages)
        self._vectors = vectors
        self._owners = np.asarray(owners, dtype=np.int64)
        self._forbids = np.asarray([forbids(t) for t in sentences], dtype=bool)
        self._sentences = list(sentences)
        self._embed = embed
        self._threshold = threshold
        self._stems = [
            frozenset(content_stems(f"{p.title} {p.section} {p.text}")) for p in self._passages
        ]
        self._all_stems: frozenset[str] = frozenset().union(*self._stems)
        self._numbers: dict[str, set[str]] = {}
        for p in self._passages:
            self._numbers.setdefault(p.doc_id, set()).update(
                numbers_in(f"{p.title} {p.section} {p.text}")
            )
        self._titles = {_plain(p.title): p.doc_id for p in self._passages if p.title.strip()}

    @property
    def titles(self) -> Mapping[str, str]:
        """Plain-form titles of the passages' documents, to doc_id."""
        return self._titles

    def attributed_title(self, sentence: str) -> str | None:
        """The doc_id a sentence like 'That comes from our guide, X.' names, if X is a title."""
        match = _ATTRIBUTION.match(_plain(sentence))
        if match is None:
            return None
        return self._titles.get(match.group("title"))

    def is_attribution(self, sentence: str) -> bool:
        return _ATTRIBUTION.match(_plain(sentence)) is not None

    def mentions(self, text: str) -> set[str]:
        """doc_ids whose title appears in the text."""
        plain = f" {_plain(text)} "
        return {doc_id for title, doc_id in self._titles.items() if f" {title} " in plain}

    def check(self, sentence: str) -> Support:
        named = self.attributed_title(sentence)
        if named is not None:
            return Support(1.0, named, True, "attribution")
        if self.is_attribution(sentence):
            # Credits a guide that is not among the passages: never say so.
            return Support(0.0, None, False, "unknown_source")
        if not self._passages or not len(self._vectors):
            return Support(0.0, None, False, "weak")
        cosines = self._vectors @ self._embed([sentence])[0]
        per_passage = np.full(len(self._passages), -1.0, dtype=np.float32)
        np.maximum.at(per_passage, self._owners, cosines)
        stems = [s for s in content_stems(sentence) if s not in _FRAMING]

        def lexical(known: frozenset[str]) -> float:
            return sum(1 for s in stems if s in known) / len(stems) if stems else 0.0

        combined = [
            SEMANTIC_WEIGHT * float(c) + (1 - SEMANTIC_WEIGHT) * lexical(own)
            for c, own in zip(per_passage, self._stems, strict=True)
        ]
        doc_id = self._passages[int(np.argmax(combined))].doc_id
        semantic = float(cosines.max())
        score = round(
            SEMANTIC_WEIGHT * semantic + (1 - SEMANTIC_WEIGHT) * lexical(self._all_stems), 4
        )
        # A number must be in the document the sentence comes from, not just anywhere.
        if numbers_in(sentence) - self._numbers.get(doc_id, set()):
            return Support(score, doc_id, False, "unknown_number")
        if score < self._threshold:
            return Support(score, doc_id, False, "weak")
        closest = cosines >= semantic - _CLOSE
        if permits(sentence):
            # Any close guide sentence that forbids the same thing, unless the sentence
            # only allows what that guide sentence leaves allowed.
            mine = set(stems)
            for i in np.flatnonzero(closest & self._forbids):
                guide = self._sentences[i]
                if mine & action_stems(guide) and not consistent(sentence, guide):
                    return Support(score, doc_id, False, "reversed")
        return Support(score, doc_id, True, "supported")


class SupportChecker:
    """Builds the per-request Grounds; the threshold comes from the settings."""

    def __init__(self, embed: Embed, threshold: float) -> None:
        self._embed = embed
        self.threshold = threshold

    def grounds(
        self,
        passages: Sequence[Passage],
        vectors: Mapping[str, NDArray[np.float32]] | None = None,
    ) -> Grounds:
        """Embeds the passages' sentences, unless their vectors (by chunk_id) are given."""
        sentences = [[s.text for s in p.sentences] or split_sentences(p.text) for p in passages]
        blocks: dict[int, NDArray[np.float32]] = {}
        for i, passage in enumerate(passages):
            given = vectors.get(passage.chunk_id) if vectors is not None else None
            if given is not None and len(given) == len(sentences[i]):
                blocks[i] = np.asarray(given, dtype=np.float32)
        missing = [i for i in range(len(passages)) if i not in blocks and sentences[i]]
        texts = [text for i in missing for text in sentences[i]]
        if texts:
            embedded = self._embed(texts)
            cursor = 0
            for i in missing:
                blocks[i] = embedded[cursor : cursor + len(sentences[i])]
                cursor += len(sentences[i])
        order = sorted(blocks)
        matrix = (
            np.concatenate([blocks[i] for i in order]).astype(np.float32, copy=False)
            if order
            else np.zeros((0, 1), dtype=np.float32)
        )
        owners = [i for i in order for _ in range(len(blocks[i]))]
        texts_in_order = [text for i in order for text in sentences[i]]
        return Grounds(passages, texts_in_order, matrix, owners, self._embed, self.threshold)

    def check(self, sentence: str, passages: Sequence[Passage]) -> Support:
        """One sentence against passages (embeds the passages: use grounds() for a stream)."""
        return self.grounds(passages).check(sentence)
