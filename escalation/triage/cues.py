"""The cue language: how a rule's phrasings are written, expanded and matched. Pure.

A cue is a regular expression over the normalised utterance (``escalation.triage.utterance``)
with three kinds of placeholder: ``{NAME}`` for an entry of the shared vocabulary,
``{gap N}`` for up to N words, and ``{gap N unnegated}`` for up to N words none of which
is a negation. A cue fires on a match that is not negated, not inside a supposition, not
inside a general question (unless the cue says so), not excluded by the words before,
after or within it, and whose condition (``only_if``) holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from escalation.clinic import TriageThresholds
from escalation.triage.utterance import Utterance, negated

Gate = Callable[[Utterance, TriageThresholds], bool]
"""A condition on the whole utterance, with the clinic's thresholds."""

_TOK = r"(?:[a-z0-9]+(?:\.[0-9]+)?|,)"
_NEG = r"(?:not|no|never|nothing|none|without|nor)"
_PLACEHOLDER = re.compile(
    r"\{(?:gap (?P<n>\d+)(?P<unnegated> unnegated)?|(?P<name>[a-z][a-z_]*))\}"
)
_MALFORMED = re.compile(r"\{[a-z][^{}]*\}?")


class CueSyntaxError(ValueError):
    """A cue pattern that cannot be read: unknown name, bad placeholder or bad expression."""


def gap(n: int, *, unnegated: bool = False) -> str:
    """Up to ``n`` words (none of them a negation when ``unnegated``)."""
    if unnegated:
        return rf"(?:(?!{_NEG} ){_TOK} ){{0,{n}}}"
    return rf"(?:{_TOK} ){{0,{n}}}"


def expand(pattern: str, vocabulary: Mapping[str, str]) -> str:
    """``pattern`` with its placeholders written out; raises ``CueSyntaxError``."""

    def replace(m: re.Match[str]) -> str:
        if m["n"] is not None:
            return gap(int(m["n"]), unnegated=bool(m["unnegated"]))
        name = m["name"]
        if name not in vocabulary:
            raise CueSyntaxError(f"unknown vocabulary name {{{name}}}")
        return vocabulary[name]

    expanded = _PLACEHOLDER.sub(replace, pattern)
    leftover = _MALFORMED.search(_PLACEHOLDER.sub("", pattern))
    if leftover:
        raise CueSyntaxError(f"malformed placeholder {leftover[0]!r}")
    return expanded


def compile_pattern(pattern: str, vocabulary: Mapping[str, str]) -> re.Pattern[str]:
    """The compiled cue pattern; raises ``CueSyntaxError`` when it cannot be read."""
    expanded = expand(pattern, vocabulary)
    try:
        return re.compile(expanded)
    except re.error as exc:
        raise CueSyntaxError(f"not a valid pattern: {exc}") from exc


def expand_vocabulary(entries: Mapping[str, str]) -> dict[str, str]:
    """Every vocabulary entry written out (entries may use each other, never in a circle)."""
    done: dict[str, str] = {}

    def resolve(name: str, path: tuple[str, ...]) -> str:
        if name in done:
            return done[name]
        if name in path:
            raise CueSyntaxError(f"vocabulary entries refer to each other in a circle: {name}")
        if name not in entries:
            raise CueSyntaxError(f"unknown vocabulary name {{{name}}}")
        used = {m["name"] for m in _PLACEHOLDER.finditer(entries[name]) if m["name"]}
        known = {n: resolve(n, (*path, name)) for n in used}
        done[name] = expand(entries[name], known)
        return done[name]

    for name in entries:
        try:
            resolve(name, ())
        except CueSyntaxError as exc:
            raise CueSyntaxError(f"vocabulary {name}: {exc}") from exc
    return done


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
    """What must also hold: a clinic threshold, another sign, happening now."""


def fires(cue: Cue, u: Utterance, t: TriageThresholds) -> str | None:
    """The words that fire ``cue`` in the utterance, or None."""
    for m in cue.pattern.finditer(u.text):
        start = u.token_at(m.start())
        if u.conditional[start] or negated(u, start):
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
