"""Properties of the spoken form and the sentence stream, over generated text."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatar_bridge.sentences import SentenceStream, split_sentences
from avatar_bridge.speech import spoken_form

# Pieces of answers as they come: words, numbers, units, abbreviations, phone numbers,
# punctuation and markdown, so that generated texts hit the rules' edges.
PIECES = [
    "Call",
    "the",
    "team",
    "rest",
    "PSA",
    "GP",
    "DVT",
    "Dr",
    "Dr.",
    "Mr.",
    "e.g.",
    "i.e.",
    "etc.",
    "approx.",
    "vs",
    "hrs",
    "wks",
    "10",
    "7",
    "1",
    "12",
    "38.0",
    "38.5",
    "0.2",
    "1,000",
    "116 123",
    "01223 000 000",
    "+44 20 7946 0000",
    "lb",
    "kg",
    "mg",
    "mL",
    "°C",
    "°F",
    "C",
    "F",
    "ng/mL",
    "%",
    "x",
    "pm",
    "am",
    "p.m.",
    "24/7",
    "and/or",
    "his/her",
    "https://www.nhs.uk/a_b",
    "care@clinic.nhs.uk",
    "-",
    "–",
    "/",
    ":",
    ".",
    ",",
    ";",
    "!",
    "?",
    "...",
    "…",
    "&",
    "~",
    "<",
    ">",
    "(",
    ")",
    "[",
    "]",
    '"',
    "'",
    "|",
    "•",
    "**",
    "*",
    "_",
    "`",
    "#",
    "\n",
    "\n\n",
    "- ",
    "1. ",
    "## ",
    "> ",
    "and",
    "but",
]

answer_like = st.lists(
    st.tuples(st.sampled_from(PIECES), st.sampled_from(["", " ", " ", "  "])), max_size=50
).map(lambda parts: "".join(piece + gap for piece, gap in parts))
any_text = st.one_of(answer_like, st.text(max_size=200))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_spoken_form_never_raises_and_is_idempotent(text: str) -> None:
    once = spoken_form(text)
    assert isinstance(once, str)
    assert "\n" not in once
    assert spoken_form(once) == once


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_like)
def test_phone_numbers_survive(text: str) -> None:
    said = spoken_form(f"{text} Call 01223 000 000 or 116 123.")
    assert "01223 000 000" in said
    assert "116 123" in said


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text, st.lists(st.integers(min_value=1, max_value=15), min_size=1, max_size=40))
def test_stream_in_any_chunks_equals_split(text: str, sizes: list[int]) -> None:
    stream = SentenceStream()
    out: list[str] = []
    i = 0
    k = 0
    while i < len(text):
        size = sizes[k % len(sizes)]
        out.extend(stream.feed(text[i : i + size]))
        i += size
        k += 1
    out.extend(stream.flush())
    assert out == split_sentences(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_sentences_only_cut_and_trim(text: str) -> None:
    sentences = split_sentences(text)
    assert all(s and s == " ".join(s.split()) for s in sentences)
    # Nothing invented, nothing reordered: what is said is a subsequence of what was written.
    source = iter("".join(text.split()))
    assert all(ch in source for ch in "".join("".join(sentences).split()))
    # And every letter or digit of the text is in some sentence.
    assert sum(ch.isalnum() for ch in text) == sum(ch.isalnum() for s in sentences for ch in s)
