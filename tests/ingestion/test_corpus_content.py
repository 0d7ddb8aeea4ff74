"""The shipped corpus and the labelled question set: metadata, clinic values, coverage, PDFs."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypdf import PdfReader

from escalation.clinic import ClinicConfig
from ingestion.documents import CorpusDocument, discover, load_document

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
QUESTIONS = REPO / "app" / "operations" / "eval_sets" / "questions.jsonl"

REQUIRED_FIELDS = (
    "id",
    "title",
    "version",
    "status",
    "reviewed_by",
    "reviewed_on",
    "review_due",
    "sources",
)
PLACEHOLDER = re.compile(r"\{\{\s*clinic\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
FRONT_MATTER = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n", re.DOTALL)
DOSE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|micrograms?|milligrams?|ml of)\b", re.IGNORECASE)

OUTCOMES = ("answered", "escalated", "red_flag", "smalltalk")
SPLITS = ("calibration", "holdout")
TAGS = frozenset(
    {
        "short",
        "long",
        "vague",
        "worried",
        "angry",
        "partner",
        "elderly",
        "non_native",
        "asr",
        "general_danger",
        "other_condition",
        "other_treatment",
        "on_topic_unanswered",
        "person_request",
    }
)
QUESTION_FIELDS = {"id", "question", "expected", "docs", "split", "tags"}


@dataclass(frozen=True)
class Topic:
    """A topic the corpus must cover: where it lives and words its text must contain."""

    docs: tuple[str, ...]
    keywords: tuple[str, ...]


# Every topic of the recovery facts the starter corpus is written from.
TOPICS: dict[str, Topic] = {
    "catheter care": Topic(
        ("catheter-care",),
        (
            "leg bag",
            "night bag",
            "below your bladder",
            "bath",
            "swimming",
            "pink",
            "leak",
            "kinked",
            "falls out",
        ),
    ),
    "after catheter removal": Topic(
        ("catheter-removal",),
        ("strain", "1.5 to 2 litres", "7 in the evening", "caffeine", "alcohol", "burning"),
    ),
    "urinary leakage": Topic(
        ("urinary-leakage",), ("12 months", "1 in 5", "pad", "6 months", "surgery")
    ),
    "pelvic floor exercises": Topic(
        ("pelvic-floor-exercises",),
        ("squeeze", "before your operation", "every day", "once the catheter has been taken out"),
    ),
    "climacturia": Topic(("climacturia",), ("orgasm", "arousal", "20 and 93")),
    "night-time urination": Topic(("night-time-urination",), ("nocturia", "at night")),
    "erections": Topic(
        ("erections-after-surgery",), ("nerve-sparing", "lasting change", "age", "1 to 2 years")
    ),
    "penile rehabilitation": Topic(
        ("penile-rehabilitation",),
        (
            "sildenafil",
            "tadalafil",
            "injection",
            "vacuum",
            "limited",
            "every night",
            "nitrates",
            "GTN",
            "30 minutes",
            "more than 4 hours",
        ),
    ),
    "sex, orgasm and fertility": Topic(
        ("sex-orgasm-and-fertility",),
        (
            "dry orgasm",
            "vasectomy",
            "children",
            "sperm",
            "ICSI",
            "painful orgasm",
            "shorter",
            "curve",
        ),
    ),
    "wound care": Topic(("wound-care",), ("glue", "shower", "red", "smells", "pus", "scrotum")),
    "pain and tiredness": Topic(
        ("pain-and-tiredness",), ("first week", "regularly", "2 to 3 weeks", "3 to 4 weeks")
    ),
    "bowels": Topic(
        ("bowels-and-constipation",),
        ("constipation", "stool softener", "enemas", "suppositories", "whatever kind of surgery"),
    ),
    "activity and exercise": Topic(
        ("activity-and-exercise",), ("4 to 6 weeks", "strenuous", "walk")
    ),
    "lifting": Topic(("lifting",), ("robotic", "open surgery")),
    "blood-thinning injections": Topic(
        ("blood-thinning-injections",),
        ("28 days", "finish the whole course", "miss", "sharps", "stockings", "black", "bruise"),
    ),
    "cycling": Topic(("cycling",), ("bicycle", "saddle")),
    "driving": Topic(("driving",), ("catheter", "painkillers", "insurance")),
    "returning to work": Topic(("returning-to-work",), ("2 to 4 weeks", "4 to 6 weeks", "desk")),
    "diet, weight and alcohol": Topic(
        ("diet-and-weight",), ("special diet", "healthy weight", "alcohol", "less aggressive")
    ),
    "PSA tests": Topic(("psa-tests",), ("prostate specific antigen", "blood test", "first PSA")),
    "PSA results": Topic(
        ("psa-results",),
        ("undetectable", "biochemical recurrence", "second test", "rise", "anxious"),
    ),
    "feelings and fear of recurrence": Topic(
        ("feelings-and-fear-of-recurrence",), ("coming back", "after treatment", "waiting")
    ),
    "partners and family": Topic(("partners-and-family",), ("partner", "support")),
    "support and talking therapies": Topic(
        ("mood-and-support",), ("talking therap", "depression", "suicide", "support group")
    ),
    "the two-to-three-year timeline": Topic(
        ("recovery-timeline",), ("12 months", "1 to 2 years", "PSA tests carry on")
    ),
    "when to get help": Topic(
        ("when-to-get-help",),
        (
            "chest pain",
            "breath",
            "coughing up blood",
            "sepsis",
            "confusion",
            "suicide",
            "drain",
            "falls out",
            "pass urine",
            "calf",
            "blood clots",
            "pus",
            "vomiting",
            "burning",
            "next call",
            "erection that lasts",
            "blood-thinning injections",
            "scrotum",
        ),
    ),
}

# Clinic values every document must take from the configuration, never write out.
CLINIC_ONLY_PHRASES = (
    "116 123",
    "01223",
    "10 pounds",
    "4.5 kilograms",
    "100.4",
    "0.2 ng/mL",
    "1.5 to 2 litres",
    "every 3 to 6 months",
)


def _placeholders() -> dict[str, str]:
    return ClinicConfig().placeholders()


@cache
def _documents() -> tuple[CorpusDocument, ...]:
    values = _placeholders()
    return tuple(load_document(source, values, CORPUS) for source in discover(CORPUS))


def _by_id() -> dict[str, CorpusDocument]:
    return {doc.doc_id: doc for doc in _documents()}


def _metadata_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.md")) + sorted(CORPUS.glob("*.pdf.yaml"))
    return [path for path in files if not path.name.lower().startswith("readme")]


def _raw_metadata(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        match = FRONT_MATTER.match(text)
        assert match, f"{path.name}: no front matter block"
        text = match.group(1)
    meta = yaml.safe_load(text)
    assert isinstance(meta, dict), f"{path.name}: metadata is not a mapping"
    return meta


@cache
def _questions() -> tuple[dict[str, Any], ...]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def _text_without_front_matter(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    return text[match.end() :] if match else text


# ---- documents -----------------------------------------------------------------------


def test_corpus_has_enough_documents_and_they_all_load() -> None:
    sources = discover(CORPUS)
    assert len(sources) >= 22
    assert len(_documents()) == len(sources)


@pytest.mark.parametrize("path", _metadata_files(), ids=lambda p: p.name)
def test_metadata_is_complete_and_approved(path: Path) -> None:
    meta = _raw_metadata(path)
    missing = [field for field in REQUIRED_FIELDS if field not in meta]
    assert not missing, f"{path.name}: missing {missing}"
    stem = path.name.removesuffix(".pdf.yaml").removesuffix(".md")
    assert meta["id"] == stem, f"{path.name}: id must match the file name"
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]+", meta["id"])
    assert meta["status"] == "approved"
    assert isinstance(meta["version"], str) and meta["version"]
    assert isinstance(meta["reviewed_on"], date) and isinstance(meta["review_due"], date)
    assert meta["review_due"] > meta["reviewed_on"]
    assert isinstance(meta["sources"], list) and meta["sources"]
    assert all(isinstance(s, str) and s.strip() for s in meta["sources"])
    assert isinstance(meta["title"], str) and len(meta["title"]) >= 3


def test_document_ids_are_unique() -> None:
    ids = [_raw_metadata(path)["id"] for path in _metadata_files()]
    assert len(ids) >= 22
    duplicates = [doc_id for doc_id, n in Counter(ids).items() if n > 1]
    assert not duplicates


def test_placeholders_use_known_clinic_keys_only() -> None:
    known = set(_placeholders())
    used: set[str] = set()
    for path in _metadata_files():
        if path.suffix == ".md":
            keys = set(PLACEHOLDER.findall(path.read_text(encoding="utf-8")))
            assert not keys - known, f"{path.name}: unknown keys {sorted(keys - known)}"
            used |= keys
    assert {"urgency_emergency", "urgency_urgent", "fever_celsius", "lifting_limit"} <= used
    for doc in _documents():
        assert "{{" not in doc.body and "}}" not in doc.body, doc.doc_id


def test_clinic_numbers_are_not_written_out_in_prose() -> None:
    for path in sorted(CORPUS.glob("*.md")):
        body = _text_without_front_matter(path)
        for phrase in CLINIC_ONLY_PHRASES:
            assert phrase not in body, f"{path.name}: write '{phrase}' as a clinic placeholder"


def test_documents_give_no_drug_doses() -> None:
    for doc in _documents():
        assert not DOSE.search(doc.body), f"{doc.doc_id}: {DOSE.search(doc.body)}"


def test_documents_are_sized_and_sectioned_for_retrieval() -> None:
    for doc in _documents():
        words = len(doc.body.split())
        assert 300 <= words <= 900, f"{doc.doc_id}: {words} words"
        headings = [line for line in doc.body.splitlines() if line.startswith("## ")]
        assert len(headings) >= 4, f"{doc.doc_id}: only {len(headings)} sections"
        assert len(set(headings)) == len(headings), f"{doc.doc_id}: repeated headings"


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_recovery_topic_is_covered(topic: str) -> None:
    docs = _by_id()
    required = TOPICS[topic]
    missing = [doc_id for doc_id in required.docs if doc_id not in docs]
    assert not missing, f"{topic}: no document {missing}"
    text = " ".join(docs[doc_id].body for doc_id in required.docs).lower()
    absent = [word for word in required.keywords if word.lower() not in text]
    assert not absent, f"{topic}: the text never mentions {absent}"


def test_nitrate_warning_and_when_to_call_are_explicit() -> None:
    values = _placeholders()
    rehab = _by_id()["penile-rehabilitation"].body
    assert re.search(r"never be taken with medicines called nitrates", rehab)
    help_doc = _by_id()["when-to-get-help"].body
    for value in ("emergency_number", "on_call_phone", "nurse_line_phone", "crisis_line_phone"):
        assert values[value] in help_doc, value


# ---- PDFs ----------------------------------------------------------------------------


def test_at_least_two_pdfs_with_a_real_text_layer() -> None:
    pdfs = sorted(CORPUS.glob("*.pdf"))
    assert len(pdfs) >= 2
    for pdf in pdfs:
        assert pdf.with_name(pdf.name + ".yaml").is_file(), f"{pdf.name}: no sidecar"
        text = "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
        assert len(text.strip()) > 500, f"{pdf.name}: only {len(text.strip())} characters"
        assert "{{" not in text and "##" not in text, pdf.name
        doc = _by_id()[pdf.name.removesuffix(".pdf")]
        sections = [line for line in doc.body.splitlines() if line.startswith("## ")]
        assert len(sections) >= 4, f"{pdf.name}: headings were not recovered"
        assert doc.body.startswith(f"# {doc.title}"), f"{pdf.name}: title is not the first line"


# ---- questions -----------------------------------------------------------------------


def test_question_set_is_large_and_well_formed() -> None:
    questions = _questions()
    assert len(questions) >= 200
    ids = [q["id"] for q in questions]
    assert len(set(ids)) == len(ids)
    doc_ids = set(_by_id())
    for q in questions:
        assert set(q) == QUESTION_FIELDS, q["id"]
        assert re.fullmatch(r"q\d{4}", q["id"])
        assert isinstance(q["question"], str) and q["question"].strip(), q["id"]
        assert q["expected"] in OUTCOMES, q["id"]
        assert q["split"] in SPLITS, q["id"]
        assert isinstance(q["tags"], list) and set(q["tags"]) <= TAGS, q["id"]
        assert isinstance(q["docs"], list), q["id"]
        if q["expected"] == "answered":
            assert q["docs"], f"{q['id']}: an answered question names its documents"
            assert set(q["docs"]) <= doc_ids, f"{q['id']}: unknown documents {q['docs']}"
        else:
            assert q["docs"] == [], f"{q['id']}: only answered questions name documents"


def test_questions_are_not_repeated() -> None:
    normalised = [re.sub(r"[^a-z0-9 ]", "", q["question"].lower()).strip() for q in _questions()]
    repeated = [text for text, n in Counter(normalised).items() if n > 1]
    assert not repeated


def test_question_mix_covers_every_outcome_and_split() -> None:
    questions = _questions()
    by_outcome = Counter(q["expected"] for q in questions)
    assert by_outcome["answered"] >= 100
    assert by_outcome["escalated"] >= 40
    assert by_outcome["red_flag"] >= 30
    assert by_outcome["smalltalk"] >= 10
    for outcome in OUTCOMES:
        splits = Counter(q["split"] for q in questions if q["expected"] == outcome)
        assert set(splits) == set(SPLITS), outcome
        assert abs(splits["calibration"] - splits["holdout"]) <= 1, (outcome, splits)


def test_hard_cases_are_represented() -> None:
    questions = _questions()
    tagged: dict[str, list[dict[str, Any]]] = {}
    for q in questions:
        for tag in q["tags"]:
            tagged.setdefault(tag, []).append(q)
    assert len(tagged["general_danger"]) >= 15
    assert all(q["expected"] == "answered" for q in tagged["general_danger"])
    assert all(q["expected"] == "escalated" for q in tagged["person_request"])
    for tag in ("other_condition", "other_treatment", "on_topic_unanswered"):
        assert len(tagged[tag]) >= 5, tag
        assert all(q["expected"] == "escalated" for q in tagged[tag]), tag
    for tag in ("asr", "partner", "elderly", "non_native", "worried", "vague", "short", "long"):
        assert len(tagged.get(tag, [])) >= 3, tag
    assert any(q["expected"] == "red_flag" for q in tagged["asr"])
    assert any(q["expected"] == "red_flag" for q in tagged["partner"])


def test_every_document_answers_at_least_three_questions() -> None:
    answered = Counter(
        doc_id for q in _questions() if q["expected"] == "answered" for doc_id in q["docs"]
    )
    thin = {doc_id: answered[doc_id] for doc_id in _by_id() if answered[doc_id] < 3}
    assert not thin
