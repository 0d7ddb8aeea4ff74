"""The meaning-based danger-sign detector, with the real embedding model.

Every rule that has example phrasings is tested with a sign said in words that are not among
its examples, and with look-alikes that must not fire: a general question about the same
sign, a denial, a supposition, another person's illness, an old history.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from escalation.clinic import RulePhrasings
from escalation.danger_meaning import (
    MeaningDetector,
    MeaningThresholds,
    Phrasings,
    about_someone_else,
    clauses,
    load_phrasings,
    speaks_of_him_now,
    strongest,
)
from escalation.errors import ClinicConfigError
from escalation.triage import rule_ids
from escalation.understanding import understand
from ingestion.embedding import Embedder

# One sign per rule, in words none of the example phrasings use.
SIGNS = {
    "collapse_or_fainting": "My husband went grey and slumped to the floor in the bathroom",
    "chest_pain": "It feels like an elephant is sitting on my chest",
    "breathlessness": "I can barely get any air in, even lying in bed",
    "coughing_blood": "When I cough there's bright red blood in the tissue",
    "heavy_bleeding": "Blood keeps soaking through the dressing however much I press on it",
    "sepsis_signs": "He's shivering violently, burning up and talking nonsense",
    "suicidal_thoughts": "Honestly I think my family would cope better if I was gone",
    "catheter_not_draining": "Not a drop has gone into the bag since lunchtime",
    "catheter_fallen_out": "The catheter slid right out when I rolled over in bed",
    "cannot_pass_urine": (
        "They took the catheter out this morning and I still haven't been able to wee"
    ),
    "fever": "I've been burning up all evening and the thermometer says 38.6",
    "calf_clot_signs": "The back of my right leg is swollen, hot and throbbing",
    "clots_or_red_urine": "There are dark red lumps floating in my bag",
    "wound_infection": "The scar is angry red, puffy and weeping",
    "severe_belly_pain_or_vomiting": "I can't stop throwing up and my stomach is agony",
    "urine_from_wound": "Wee seems to be trickling out of my operation cut",
    "prolonged_erection": "My erection has not gone down for six hours and it really hurts",
}
LOOK_ALIKES = [
    "Is it normal to feel a bit faint when I first stand up?",
    "What should I do if I ever get chest pain?",
    "I don't have any pain in my legs and they look normal",
    "My father died of a blood clot many years ago",
    "If the catheter stops draining, who do I call?",
    "How will I know if my wound is infected?",
    "My wife has had a bad cough all week",
    "I'm a bit tired in the afternoons but otherwise fine",
    "My catheter comes out next Tuesday",
    "Years ago I had a blood clot in my leg after a long flight",
]


@pytest.fixture(scope="module")
def detector(embedder: Embedder) -> MeaningDetector:
    return MeaningDetector(embedder.embed, load_phrasings())


def _found(detector: MeaningDetector, text: str) -> tuple[str, str] | None:
    u = understand(text)
    hit = strongest(detector.matches(clauses(u.sentences)), MeaningThresholds())
    return (hit[0], hit[1].rule) if hit else None


def test_every_rule_with_phrasings_is_a_rule_or_a_named_unlisted_sign() -> None:
    shipped = load_phrasings()
    unknown = set(shipped.rules) - rule_ids()
    # Signs without a rule of their own speak the urgent 'needs checking today' instruction.
    assert unknown <= {
        "urine_from_wound",
        "rectal_injury_signs",
        "scrotal_swelling",
        "catheter_bypassing_with_pain",
        "bowel_obstruction_signs",
        "new_breathlessness_mild",
        "flank_pain_with_fever",
        "anticoagulant_bleeding",
        "prolonged_erection",
        "uncontrolled_pain",
    }
    assert all(len(p.says) >= 2 for p in shipped.rules.values())
    assert len(shipped.look_alikes) >= 20


@pytest.mark.parametrize(("rule", "text"), sorted(SIGNS.items()))
def test_a_sign_in_other_words_is_closest_to_its_rule(
    detector: MeaningDetector, rule: str, text: str
) -> None:
    found = detector.matches(clauses(understand(text).sentences))
    best = max(found, key=lambda m: m.similarity)
    assert best.rule == rule
    assert best.similarity > best.look_alike


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("fever", SIGNS["fever"]),
        ("calf_clot_signs", SIGNS["calf_clot_signs"]),
        ("severe_belly_pain_or_vomiting", SIGNS["severe_belly_pain_or_vomiting"]),
        ("urine_from_wound", SIGNS["urine_from_wound"]),
    ],
)
def test_clear_signs_reach_the_rule_level(detector: MeaningDetector, rule: str, text: str) -> None:
    assert _found(detector, text) == ("rule", rule)


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_do_not_fire(detector: MeaningDetector, text: str) -> None:
    assert _found(detector, text) is None


def test_a_sign_inside_a_long_message_is_found(detector: MeaningDetector) -> None:
    text = (
        "I had my robotic prostatectomy three weeks ago and mostly it has gone well, the "
        "leaking is getting better and I'm walking every day. Since yesterday though my left "
        "calf has become swollen and really sore, and it's warm to touch. Also, when can I "
        "start cycling again?"
    )
    assert _found(detector, text) == ("rule", "calf_clot_signs")


def test_a_denial_never_matches_a_report(detector: MeaningDetector) -> None:
    assert _found(detector, "I have not had a temperature at all") is None
    assert _found(detector, "The catheter is draining fine and nothing has fallen out") is None


def test_who_and_when() -> None:
    assert speaks_of_him_now("my calf is swollen and hot")
    assert speaks_of_him_now("My husband's calf is swollen and hot")
    assert not speaks_of_him_now("my brother's calf is swollen")
    assert not speaks_of_him_now("what are the signs of a clot?")
    assert not speaks_of_him_now("if I get a fever what should I do")
    assert not speaks_of_him_now("I had a fever years ago")
    assert not speaks_of_him_now("Catheter comes out tomorrow!")
    assert not speaks_of_him_now("which bag should I use with my catheter?")
    assert speaks_of_him_now("is it normal that my calf is swollen?")
    assert speaks_of_him_now("the catheter will not drain")
    assert about_someone_else(["My 26 year old wife has gallstones", "Her wound is red"])
    assert not about_someone_else(["My wife asks about my catheter", "It is blocked"])
    # A clause from months ago counts only when it is brought to now.
    old = clauses(["I had the operation three months ago and now my calf is swollen"])
    assert "now my calf is swollen" in old
    assert not any("three months ago" in c for c in old)


def test_a_clinic_adds_its_own_phrasings(tmp_path: Path, embedder: Embedder) -> None:
    shipped = load_phrasings()
    extra = {"fever": RulePhrasings(says=["I'm roasting and my head is pounding"])}
    merged = shipped.merged(extra, ["Is it hot in here?"])
    assert merged.rules["fever"].says[-1] == "I'm roasting and my head is pounding"
    assert len(merged.rules["fever"].says) == len(shipped.rules["fever"].says) + 1
    assert merged.look_alikes[-1] == "Is it hot in here?"
    bad = tmp_path / "bad.yaml"
    bad.write_text("fever: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ClinicConfigError, match="invalid"):
        load_phrasings(bad)
    bad.write_text("fever: {says: ['x']\n", encoding="utf-8")
    with pytest.raises(ClinicConfigError, match="cannot be read"):
        load_phrasings(bad)
    empty = MeaningDetector(embedder.embed, Phrasings(rules={}))
    assert empty.matches(["my calf is swollen"]) == []
