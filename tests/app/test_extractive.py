"""The extractive composer picks the sentence that holds what was asked, not the opener."""

from __future__ import annotations

from app.conversation.composers.extractive import answering_documents, select_sentences
from ingestion.search import Passage, ScoredSentence


def passage(doc_id: str, sentences: list[tuple[str, float]], score: float = 0.6) -> Passage:
    return Passage(
        chunk_id=f"{doc_id}:0",
        doc_id=doc_id,
        title=doc_id.title(),
        section="",
        version="1",
        text=" ".join(t for t, _ in sentences),
        score=score,
        overlap=0.5,
        sentences=tuple(ScoredSentence(i, t, s) for i, (t, s) in enumerate(sentences)),
    )


LEAKING = passage(
    "leaking",
    [
        ("It is natural to worry about leaking after the operation.", 0.62),
        ("Most men are dry or nearly dry by 12 months.", 0.55),
        ("Keep doing your pelvic floor exercises every day.", 0.40),
    ],
)


def test_a_duration_question_gets_the_sentence_with_the_time_span() -> None:
    chosen = [
        text
        for _, text in select_sentences("How long will I leak?", [LEAKING], "when", strict=True)
    ]
    assert chosen[0] == "Most men are dry or nearly dry by 12 months."


def test_without_a_kind_the_best_match_leads() -> None:
    chosen = [text for _, text in select_sentences("leaking worry", [LEAKING])]
    assert chosen[0].startswith("It is natural to worry")
    assert 2 <= len(chosen) <= 4


def test_a_strict_question_with_no_such_sentence_gets_no_answer() -> None:
    feelings = passage(
        "feelings",
        [
            ("It is natural to worry that the cancer might come back.", 0.7),
            ("Talking to someone can help.", 0.5),
        ],
    )
    assert select_sentences("How common is it for the cancer to come back?", [feelings],
                            "how_common", strict=True) == []  # fmt: skip
    # The same question, not strict, still gets the nearest sentences.
    assert select_sentences("Will the cancer come back?", [feelings], "other")


def test_the_next_document_answers_when_only_it_holds_the_kind() -> None:
    first = passage("results", [("After surgery your PSA should fall very low.", 0.7)], 0.7)
    second = passage("tests", [("PSA tests check whether any cancer cells are left.", 0.6)], 0.65)
    assert answering_documents([first, second], "why") == ("results", "tests")
    chosen = select_sentences("Why is my PSA still checked?", [first, second], "why")
    assert chosen[0][1] == "PSA tests check whether any cancer cells are left."
    assert answering_documents([first, second], "other") == ("results",)
