"""One urgency language: guides say how soon to act only in the clinic's vocabulary, and a
guide never gives a danger sign a different urgency from the red-flag rule for that sign."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from pypdf import PdfReader

from escalation.clinic import URGENCY_PRIORITY, ClinicConfig
from escalation.triage import RULES, Priority

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
FRONT_MATTER = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n", re.DOTALL)
LEVEL_PLACEHOLDER = re.compile(r"\{\{\s*clinic\.urgency_(emergency|urgent|today|routine)\s*\}\}")
ANY_URGENCY_PLACEHOLDER = re.compile(r"\{\{\s*clinic\.urgency_[a-z_]+\s*\}\}")
CONTACT = re.compile(
    r"\b(?:call|calls|contact|phone|ring|tell|get help|go to|see a doctor)\b", re.I
)
# Words that say how soon to act. Outside a vocabulary placeholder they may not share a
# sentence with an instruction to contact someone.
URGENCY_WORDS = re.compile(
    r"\b(?:same day|straight away|at once|immediately|urgently|right away|as soon as possible"
    r"|without delay|now|today|tonight|within \d+ hours|next appointment|book an appointment"
    r"|day or night)\b",
    re.I,
)
# Clinic numbers that only the vocabulary may pair with "call".
DIRECT_CALL = re.compile(
    r"\b(?:call|ring|phone)\s+\{\{\s*clinic\.(?:emergency_number|on_call_name|on_call_phone"
    r"|urgent_advice_number)\s*\}\}",
    re.I,
)


def _markdown_guides() -> list[Path]:
    return [p for p in sorted(CORPUS.glob("*.md")) if not p.name.lower().startswith("readme")]


def _body(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    return text[match.end() :] if match else text


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?:])\s+|\n+", text) if s.strip()]


def _offending(text: str) -> list[str]:
    bad = []
    for sentence in _sentences(text):
        if ANY_URGENCY_PLACEHOLDER.search(sentence):
            continue
        stray = CONTACT.search(sentence) and URGENCY_WORDS.search(sentence)
        if DIRECT_CALL.search(sentence) or stray:
            bad.append(sentence)
    return bad


@pytest.mark.parametrize("path", _markdown_guides(), ids=lambda p: p.name)
def test_guides_say_how_soon_only_in_the_vocabulary(path: Path) -> None:
    assert not _offending(_body(path)), _offending(_body(path))


@pytest.mark.parametrize("pdf", sorted(CORPUS.glob("*.pdf")), ids=lambda p: p.name)
def test_pdf_guides_say_how_soon_only_in_the_vocabulary(pdf: Path) -> None:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
    assert not _offending(text)


@pytest.mark.parametrize(
    "sentence",
    [
        "Call the on-call team the same day if your wound is red.",
        "If you have a fever, call {{ clinic.on_call_name }} on {{ clinic.on_call_phone }}.",
        "Call {{ clinic.emergency_number }} if you have chest pain.",
        "Contact your team straight away if the catheter falls out.",
        "Book an appointment, or call the nurse line, if burning lasts.",
    ],
)
def test_the_vocabulary_check_catches_stray_urgency(sentence: str) -> None:
    assert _offending(sentence) == [sentence]


def test_the_vocabulary_check_allows_the_placeholders_and_plain_mentions() -> None:
    text = (
        "A fever needs checking now. {{ clinic.urgency_urgent }} "
        "Tell your team if your erections are not getting better. "
        "Then let go straight away."
    )
    assert _offending(text) == []


# ---- a sign's urgency in a guide is the rule's ---------------------------------------

# (rule id, priority, guide, the sign as the guide words it)
SIGNS: list[tuple[str, Priority, str, str]] = [
    ("chest_pain", "emergency", "when-to-get-help", r"chest pain, sudden"),
    ("coughing_blood", "emergency", "when-to-get-help", r"coughing up blood"),
    ("heavy_bleeding", "emergency", "when-to-get-help", r"heavy bleeding that will not stop"),
    ("anticoagulant_bleeding", "emergency", "when-to-get-help", r"black, sticky poo"),
    ("anticoagulant_bleeding", "emergency", "blood-thinning-injections", r"black, sticky poo"),
    ("anticoagulant_bleeding", "urgent", "blood-thinning-injections", r"large bruise"),
    ("anticoagulant_bleeding", "urgent", "when-to-get-help", r"large bruise"),
    ("anticoagulant_bleeding", "urgent", "wound-care", r"large bruise"),
    ("sepsis_signs", "emergency", "when-to-get-help", r"slurred speech"),
    ("sepsis_signs", "emergency", "when-to-get-help", r"does not fade"),
    ("sepsis_signs", "emergency", "when-to-get-help", r"cold, clammy"),
    ("sepsis_signs", "emergency", "catheter-removal", r"shivering you cannot stop"),
    ("sepsis_signs", "emergency", "partners-and-family", r"shivering badly"),
    ("prolonged_erection", "emergency", "when-to-get-help", r"erection that lasts"),
    ("prolonged_erection", "emergency", "penile-rehabilitation", r"erection that lasts"),
    ("suicidal_thoughts", "emergency", "mood-and-support", r"act on these thoughts"),
    ("catheter_not_draining", "urgent", "when-to-get-help", r"does not drain"),
    ("catheter_not_draining", "urgent", "catheter-care", r"still does not drain"),
    ("catheter_not_draining", "urgent", "partners-and-family", r"stops draining"),
    ("catheter_fallen_out", "urgent", "catheter-care", r"do not try to put the catheter back"),
    ("catheter_bypassing_with_pain", "urgent", "catheter-care", r"together with belly pain"),
    ("catheter_bypassing_with_pain", "urgent", "when-to-get-help", r"together with belly pain"),
    ("cannot_pass_urine", "urgent", "catheter-removal", r"not being able to pass any urine"),
    ("cannot_pass_urine", "urgent", "when-to-get-help", r"not being able to pass urine"),
    ("clots_or_red_urine", "urgent", "when-to-get-help", r"passing blood clots"),
    ("clots_or_red_urine", "urgent", "catheter-removal", r"blood clots in your urine"),
    ("clots_or_red_urine", "urgent", "catheter-care", r"bright red"),
    ("rectal_injury_signs", "urgent", "when-to-get-help", r"air bubbles in your urine"),
    ("urine_from_wound", "urgent", "when-to-get-help", r"a lot of clear fluid"),
    ("urine_from_wound", "urgent", "wound-care", r"a lot of clear fluid"),
    ("fever", "urgent", "when-to-get-help", r"a fever means"),
    ("fever", "urgent", "catheter-removal", r"a temperature of"),
    ("fever", "urgent", "wound-care", r"so does a fever"),
    ("fever", "urgent", "partners-and-family", r"high temperature"),
    ("flank_pain_with_fever", "urgent", "when-to-get-help", r"pain in your side or back"),
    ("flank_pain_with_fever", "urgent", "pain-and-tiredness", r"pain in your side or back"),
    ("calf_clot_signs", "urgent", "when-to-get-help", r"one calf or leg"),
    ("calf_clot_signs", "urgent", "blood-thinning-injections", r"one calf or leg"),
    ("calf_clot_signs", "urgent", "partners-and-family", r"painful swollen calf"),
    ("new_breathlessness_mild", "urgent", "when-to-get-help", r"new breathlessness"),
    ("new_breathlessness_mild", "urgent", "blood-thinning-injections", r"new breathlessness"),
    ("wound_infection", "urgent", "when-to-get-help", r"leaks pus"),
    ("wound_infection", "urgent", "wound-care", r"leaks pus"),
    ("severe_belly_pain_or_vomiting", "urgent", "when-to-get-help", r"swollen hard belly"),
    ("severe_belly_pain_or_vomiting", "urgent", "bowels-and-constipation", r"swollen hard belly"),
    ("severe_belly_pain_or_vomiting", "urgent", "pain-and-tiredness", r"swollen hard belly"),
    ("bowel_obstruction_signs", "urgent", "when-to-get-help", r"no wind or poo"),
    ("bowel_obstruction_signs", "urgent", "bowels-and-constipation", r"no wind or poo"),
    ("scrotal_swelling", "urgent", "when-to-get-help", r"swells up fast"),
    ("scrotal_swelling", "urgent", "wound-care", r"swells up fast"),
    ("urine_infection_signs", "routine", "when-to-get-help", r"burning when you pee"),
    ("urine_infection_signs", "routine", "catheter-removal", r"burning lasts"),
    ("low_mood", "routine", "when-to-get-help", r"feeling low"),
]


@cache
def _rule_levels() -> dict[tuple[str, str], str]:
    levels: dict[tuple[str, str], str] = {}
    for rule in RULES:
        found = re.search(r"\{urgency_(emergency|urgent|today|routine)\}", rule.instruction)
        assert found, rule.id
        levels[(rule.id, rule.priority)] = found.group(1)
    return levels


def _guide_level(doc_id: str, sign: str) -> str:
    """The urgency the guide gives the sign: the first level placeholder after it."""
    body = _body(CORPUS / f"{doc_id}.md")
    for paragraph in re.split(r"\n\s*\n|\n(?=## )", body):
        found = re.search(sign, paragraph, re.I)
        if found:
            level = LEVEL_PLACEHOLDER.search(paragraph, found.end())
            assert level, f"{doc_id}: '{sign}' is given no urgency"
            return level.group(1)
    raise AssertionError(f"{doc_id}: the sign '{sign}' is not in the guide")


@pytest.mark.parametrize(("rule", "priority", "doc_id", "sign"), SIGNS)
def test_a_guide_gives_a_sign_the_rules_urgency(
    rule: str, priority: Priority, doc_id: str, sign: str
) -> None:
    assert (rule, priority) in _rule_levels(), (rule, priority)
    assert _guide_level(doc_id, sign) == _rule_levels()[(rule, priority)], (doc_id, sign)


def test_every_rule_has_its_sign_in_a_guide() -> None:
    covered = {(rule, priority) for rule, priority, _, _ in SIGNS}
    missing = (
        set(_rule_levels())
        - covered
        - {
            ("collapse_or_fainting", "emergency"),
            ("breathlessness", "emergency"),
        }
    )
    assert not missing
    # The two left out share their guide sentence with chest pain.
    body = _body(CORPUS / "when-to-get-help.md")
    assert "collapsing or fainting" in body and "sudden or severe breathlessness" in body


def test_the_nurse_today_level_is_raised_as_urgent_and_priorities_stay_public() -> None:
    assert URGENCY_PRIORITY == {
        "emergency": "emergency",
        "urgent": "urgent",
        "today": "urgent",
        "routine": "routine",
    }
    assert {rule.priority for rule in RULES} == {"emergency", "urgent", "routine"}


def test_every_hand_over_guide_carries_the_safety_net() -> None:
    net = ClinicConfig().urgency_phrases()["safety_net"]
    for doc_id in ("when-to-get-help", "catheter-care", "catheter-removal", "wound-care"):
        assert "{{ clinic.urgency_safety_net }}" in _body(CORPUS / f"{doc_id}.md"), doc_id
    assert "111" in net and "A&E" in net and "999" in net
