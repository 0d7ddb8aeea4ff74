"""Sentence streaming: each sentence leaves as soon as it is complete, wherever the text is cut."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from avatar_bridge.sentences import SentenceStream, split_sentences, stream_sentences

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

SPLITS = [
    ("One. Two.", ["One.", "Two."]),
    ("Is it normal? Yes! Call us.", ["Is it normal?", "Yes!", "Call us."]),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("No end", ["No end"]),
    ("", []),
    ("   \n\n  ", []),
    ("See Dr. Patel today. Then rest.", ["See Dr. Patel today.", "Then rest."]),
    ("Ask Mr. Smith or Mrs. Jones.", ["Ask Mr. Smith or Mrs. Jones."]),
    (
        "Nitrates (e.g. GTN spray) are dangerous. Call us.",
        ["Nitrates (e.g. GTN spray) are dangerous.", "Call us."],
    ),
    ("That is, i.e. Monday. Fine.", ["That is, i.e. Monday.", "Fine."]),
    ("It takes approx. 6 weeks. Rest.", ["It takes approx. 6 weeks.", "Rest."]),
    ("Robotic vs. open. Both work.", ["Robotic vs. open.", "Both work."]),
    ("A fever is 38.5 or more. Call.", ["A fever is 38.5 or more.", "Call."]),
    ("A PSA of 0.2 ng/mL. Then more.", ["A PSA of 0.2 ng/mL.", "Then more."]),
    ("J. R. Smith wrote it. Read it.", ["J. R. Smith wrote it.", "Read it."]),
    ("Wait... Then call. Or not…  Fine.", ["Wait... Then call.", "Or not… Fine."]),
    ("1. Drink water. 2. Rest.", ["1. Drink water.", "2. Rest."]),
    ("Pads, wipes, etc. are fine. Go.", ["Pads, wipes, etc. are fine.", "Go."]),
    ("Bring pads, wipes, etc. Then go.", ["Bring pads, wipes, etc.", "Then go."]),
    ("Come at 7 p.m. Then sleep.", ["Come at 7 p.m.", "Then sleep."]),
    ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
    ("It helps (a lot.) Try it.", ["It helps (a lot.)", "Try it."]),
    ("**Call now.** It is urgent.", ["**Call now.**", "It is urgent."]),
    ("Use e.g., water. Fine.", ["Use e.g., water.", "Fine."]),
    ("Read leaflet.pdf first. Then ask.", ["Read leaflet.pdf first.", "Then ask."]),
    ("the end. then lower case", ["the end. then lower case"]),
    ("Call 999. Now.", ["Call 999.", "Now."]),
    ("I am 65. My PSA is fine.", ["I am 65.", "My PSA is fine."]),
    ("Is it normal? No. Call us.", ["Is it normal?", "No.", "Call us."]),
    ("Line one.\nLine two.", ["Line one.", "Line two."]),
    ("Dr.\nPatel", ["Dr.", "Patel"]),
    ("Para one\n\nPara two", ["Para one", "Para two"]),
    ("# Catheter care\nIt stays in.", ["# Catheter care", "It stays in."]),
    ("Watch for:\n- fever\n- chills", ["Watch for:", "- fever", "- chills"]),
    ("Steps\n1. Wash\n2. Dry", ["Steps", "1. Wash", "2. Dry"]),
    ("A sentence that\ngoes on.", ["A sentence that goes on."]),
    ("Signs: • fever • chills", ["Signs:", "• fever", "• chills"]),
    ("Use the •dot.", ["Use the •dot."]),
    ("Too   many\tspaces. Here.", ["Too many spaces.", "Here."]),
    ("- \n---\n. Real.", ["Real."]),
    ("| a | b |\n|---|---|\n| 1 | 2 |", ["| a | b |", "| 1 | 2 |"]),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def _char_by_char(text: str) -> list[str]:
    stream = SentenceStream()
    out: list[str] = []
    for ch in text:
        out.extend(stream.feed(ch))
    return out + stream.flush()


def _random_chunks(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    stream = SentenceStream()
    out: list[str] = []
    i = 0
    while i < len(text):
        size = rng.randint(1, 12)
        out.extend(stream.feed(text[i : i + size]))
        i += size
    return out + stream.flush()


STREAM_TEXTS = [case[0] for case in SPLITS] + [
    path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.md"))
]


@pytest.mark.parametrize("text", STREAM_TEXTS)
def test_char_by_char_equals_split(text: str) -> None:
    assert _char_by_char(text) == split_sentences(text)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("text", [*STREAM_TEXTS[-6:], " ".join(c[0] for c in SPLITS)])
def test_random_chunks_equal_split(text: str, seed: int) -> None:
    assert _random_chunks(text, seed) == split_sentences(text)


def test_first_sentence_leaves_before_the_stream_ends() -> None:
    stream = SentenceStream()
    assert stream.feed("First sentence.") == []
    assert stream.feed(" ") == []
    assert stream.feed("S") == ["First sentence."]
    assert stream.feed("econd one") == []
    assert stream.flush() == ["Second one"]


def test_question_leaves_on_the_space_after_it() -> None:
    stream = SentenceStream()
    assert stream.feed("Is it normal?") == []
    assert stream.feed(" ") == ["Is it normal?"]


def test_full_stop_then_newline_leaves_at_once() -> None:
    stream = SentenceStream()
    assert stream.feed("Rest today.\n") == ["Rest today."]


def test_abbreviation_waits_for_the_next_word() -> None:
    stream = SentenceStream()
    assert stream.feed("See Dr. ") == []
    assert stream.feed("Patel") == []
    assert stream.feed(" today. Then") == ["See Dr. Patel today."]


def test_decimal_not_cut_while_streaming() -> None:
    stream = SentenceStream()
    assert stream.feed("It was 38.") == []
    assert stream.feed("5 this morning. ") == []
    assert stream.feed("Call") == ["It was 38.5 this morning."]


def test_lower_case_after_a_full_stop_is_not_a_new_sentence() -> None:
    stream = SentenceStream()
    assert stream.feed("Wait 2 wk. then") == []
    assert stream.flush() == ["Wait 2 wk. then"]


def test_flush_resets_for_reuse() -> None:
    stream = SentenceStream()
    stream.feed("One. Tw")
    assert stream.flush() == ["Tw"]
    assert stream.flush() == []
    assert stream.feed("Three. F") == ["Three."]


def test_empty_feed_returns_nothing() -> None:
    stream = SentenceStream()
    assert stream.feed("") == []
    assert stream.flush() == []


def test_held_text_stays_small() -> None:
    stream = SentenceStream()
    for _ in range(500):
        stream.feed("A short sentence here. ")
    assert len(stream._buf) < 40


async def _deltas(text: str, size: int) -> AsyncIterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


async def test_stream_sentences() -> None:
    text = "Rest today. See Dr. Patel at 10.30 tomorrow! Call 116 123 if low"
    got = [s async for s in stream_sentences(_deltas(text, 3))]
    assert got == ["Rest today.", "See Dr. Patel at 10.30 tomorrow!", "Call 116 123 if low"]


async def test_stream_sentences_yields_before_the_source_ends() -> None:
    released: list[str] = []

    async def source() -> AsyncIterator[str]:
        yield "First one. "
        yield "Sec"
        # The first sentence is out before the source has finished.
        assert released == ["First one."]
        yield "ond."

    async for sentence in stream_sentences(source()):
        released.append(sentence)
    assert released == ["First one.", "Second."]
