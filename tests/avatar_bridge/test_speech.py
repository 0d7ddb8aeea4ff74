"""Spoken form: what the voice says for an answer, and appointment times said aloud."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from avatar_bridge.sentences import split_sentences
from avatar_bridge.speech import MAX_SENTENCE_WORDS, spoken_form
from avatar_bridge.spoken_time import spoken_datetime

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

UNITS = [
    ("Lift nothing over 10 lb.", "Lift nothing over 10 pounds."),
    ("Lift no more than 10lbs for now.", "Lift no more than 10 pounds for now."),
    ("Nothing heavier than 1 lb.", "Nothing heavier than 1 pound."),
    ("About 10 lb (4.5 kg).", "About 10 pounds (4.5 kilograms)."),
    ("Lose 1 kg a month.", "Lose 1 kilogram a month."),
    ("A fever is 38.0 °C or higher.", "A fever is 38 degrees or higher."),
    ("It was 38.5°C this morning.", "It was 38.5 degrees this morning."),
    ("It was 38ºC.", "It was 38 degrees."),
    ("A temperature of 38 C or more.", "A temperature of 38 degrees or more."),
    ("That is 100.4 °F.", "That is 100.4 degrees Fahrenheit."),
    ("Over 100.4F counts.", "Over 100.4 degrees Fahrenheit counts."),
    ("A fever is 38.0 °C / 100.4 °F.", "A fever is 38 degrees or 100.4 degrees Fahrenheit."),
    ("A PSA of 0.2 ng/mL or more.", "A PSA of 0.2 nanograms per millilitre or more."),
    ("Results are given in ng/mL.", "Results are given in nanograms per millilitre."),
    ("Drink 500 ml of water.", "Drink 500 millilitres of water."),
    ("Drink 250mL at a time.", "Drink 250 millilitres at a time."),
    ("Drink 2 L a day.", "Drink 2 litres a day."),
    ("A glass is 8 oz.", "A glass is 8 ounces."),
    ("A cup is 8 fl oz.", "A cup is 8 fluid ounces."),
    ("Take 5 mg at night.", "Take 5 milligrams at night."),
    ("No more than 1,000 mg a day.", "No more than 1,000 milligrams a day."),
    ("Take 10 mg/day.", "Take 10 milligrams per day."),
    ("A cut 2 cm long and 5 mm deep.", "A cut 2 centimetres long and 5 millimetres deep."),
    ("Walk 2 km each day.", "Walk 2 kilometres each day."),
    ("About 40% of men.", "About 40 percent of men."),
    ("Rest for 2 hrs.", "Rest for 2 hours."),
    ("Wait 1 hr.", "Wait 1 hour."),
    ("Squeeze for 10 secs.", "Squeeze for 10 seconds."),
    ("It takes 15 mins.", "It takes 15 minutes."),
    ("Back at work in 6 wks.", "Back at work in 6 weeks."),
    ("Wait a few hrs.", "Wait a few hours."),
]

NUMBERS = [
    ("It stays in 7-10 days.", "It stays in 7 to 10 days."),
    ("It stays in 7–10 days.", "It stays in 7 to 10 days."),
    ("It stays in 7 - 10 days.", "It stays in 7 to 10 days."),
    ("Improvement over 1-2 years.", "Improvement over 1 to 2 years."),
    ("Reported in 20-93% of men.", "Reported in 20 to 93 percent of men."),
    ("Lift 7-10kg at most.", "Lift 7 to 10 kilograms at most."),
    ("A PSA of 0.2-0.4 ng/mL.", "A PSA of 0.2 to 0.4 nanograms per millilitre."),
    ("A reading of 38.0 is a fever.", "A reading of 38 is a fever."),
    ("A reading of 38.00 is a fever.", "A reading of 38 is a fever."),
    ("A reading of 0.20 is low.", "A reading of 0.20 is low."),
    ("The line is open 24/7.", "The line is open 24 hours a day, 7 days a week."),
    ("Take 1/2 a tablet.", "Take 1/2 a tablet."),
    ("About 1 in 5 men.", "About 1 in 5 men."),
    ("Reviewed on 2026-11-20.", "Reviewed on 2026-11-20."),
    ("Like COVID-19 rules.", "Like COVID-19 rules."),
    ("Version 1.0.2 of the leaflet.", "Version 1.0.2 of the leaflet."),
    ("Take it 3x a day.", "Take it 3 times a day."),
    ("It takes ~10 days.", "It takes about 10 days."),
    ("A PSA <0.1 is undetectable.", "A PSA less than 0.1 is undetectable."),
    ("A temperature > 38 is a fever.", "A temperature more than 38 is a fever."),
    ("A temperature ≥ 38 is a fever.", "A temperature at least 38 is a fever."),
]

TIMES = [
    ("Drink less after 7 pm.", "Drink less after 7 pm."),
    ("Drink less after 7pm.", "Drink less after 7 pm."),
    ("Drink less after 7PM.", "Drink less after 7 pm."),
    ("Drink less after 7 p.m. and sleep.", "Drink less after 7 pm and sleep."),
    ("Drink less after 7 p.m. Then sleep.", "Drink less after 7 pm. Then sleep."),
    ("Come at 10:30.", "Come at 10:30."),
    ("Come at 10:30am.", "Come at 10:30 am."),
    ("Come at 7.30pm.", "Come at 7:30 pm."),
    ("Come at 10:00 am.", "Come at 10 am."),
    ("Come at 12 pm.", "Come at midday."),
    ("Come at 12am.", "Come at midnight."),
    ("Open 9am-5pm.", "Open 9 am to 5 pm."),
]

WORDS = [
    ("Nitrates (e.g. GTN spray) are dangerous.", "Nitrates (for example GTN spray) are dangerous."),
    ("E.g. a walk.", "For example a walk."),
    ("Some drinks, e.g., coffee.", "Some drinks, for example, coffee."),
    ("Nitrates, i.e. GTN.", "Nitrates, that is GTN."),
    ("Bring pads, wipes, etc.", "Bring pads, wipes, and so on."),
    ("Bring pads, wipes, etc. Then rest.", "Bring pads, wipes, and so on. Then rest."),
    ("Pads, wipes, etc. are fine.", "Pads, wipes, and so on are fine."),
    ("It takes approx. 6 weeks.", "It takes about 6 weeks."),
    ("Approx. 6 weeks.", "About 6 weeks."),
    ("Robotic vs open surgery.", "Robotic versus open surgery."),
    ("Robotic vs. open surgery.", "Robotic versus open surgery."),
    ("See Dr Patel.", "See Doctor Patel."),
    ("See Dr. Patel.", "See Doctor Patel."),
    ("Ask your Dr about it.", "Ask your Dr about it."),
    ("Go to A & E.", "Go to A and E."),
    ("Ask Bladder &amp; Bowel UK.", "Ask Bladder and Bowel UK."),
    ("Walk w/o pain.", "Walk without pain."),
    ("He/she can call.", "He or she can call."),
    ("Pain and/or fever.", "Pain and or fever."),
    ("Ask your GP about a PSA test.", "Ask your GP about a PSA test."),
    ("DVT, UTI and PDE5 tablets.", "DVT, UTI and PDE5 tablets."),
]

MARKDOWN = [
    ("**Call** now.", "Call now."),
    ("*Rest* well.", "Rest well."),
    ("__Rest__ and _walk_.", "Rest and walk."),
    ("~~Not~~ this.", "Not this."),
    ("Keep snake_case_words.", "Keep snake_case_words."),
    ("Use `plain` words.", "Use plain words."),
    ("See [the NHS page](https://www.nhs.uk/x).", "See the NHS page."),
    ("![a diagram of the bag](bag.png)", "a diagram of the bag"),
    ("Drink water [1].", "Drink water."),
    ("<b>Bold</b> words.", "Bold words."),
    ("# Catheter care\nIt stays in.", "Catheter care. It stays in."),
    ("### After surgery ###\nRest.", "After surgery. Rest."),
    ("Title\n=====\nText.", "Title. Text."),
    ("- keep the bag low\n- empty it often", "Keep the bag low. Empty it often."),
    ("* one thing\n* another thing", "One thing. Another thing."),
    ("1. Wash your hands.\n2. Clean the skin.", "Wash your hands. Clean the skin."),
    ("1) wash\n2) dry", "Wash. Dry."),
    ("Watch for:\n- fever,\n- chills;", "Watch for: Fever. Chills."),
    ("- [ ] buy pads", "Buy pads."),
    ("> Call us today.", "Call us today."),
    ("| Week | Activity |\n|---|---|\n| 1 | rest |", "Week, Activity. 1, rest."),
    ("```\nkeep calm\n```", "keep calm."),
    ("First paragraph\n\nSecond paragraph.", "First paragraph. Second paragraph."),
    ("A sentence that\ngoes on.", "A sentence that goes on."),
    ("Call us\nThen rest.", "Call us. Then rest."),
    ("Rest.\n\n---\n\nWalk.", "Rest. Walk."),
    ("Status: draft | approved | retired.", "Status: draft, approved, retired."),
    ("- mL counts", "mL counts."),
]

PROTECTED = [
    ("Call 01223 000 000 now.", "Call 01223 000 000 now."),
    ("Call Samaritans on 116 123.", "Call Samaritans on 116 123."),
    ("Call 116 123, 24/7.", "Call 116 123, 24 hours a day, 7 days a week."),
    ("Call +44 20 7946 0000.", "Call +44 20 7946 0000."),
    ("Call (01223) 245151.", "Call (01223) 245151."),
    ("Call 1-800-273-8255.", "Call 1-800-273-8255."),
    ("Call 0800 123 4567 today.", "Call 0800 123 4567 today."),
    ("Call 999 or 112.", "Call 999 or 112."),
    ("Call 911 or 988.", "Call 911 or 988."),
    ("Read https://www.nhs.uk/a_b/c/ now.", "Read https://www.nhs.uk/a_b/c/ now."),
    ("Write to care@clinic.nhs.uk today.", "Write to care@clinic.nhs.uk today."),
]

LONG = (
    "Some men leak a little when they cough or sneeze for several months after the "
    "operation, and this usually gets better as the pelvic floor muscles get stronger "
    "with daily exercises over the first year."
)
LONG_SEMICOLON = (
    "You may feel tired for some weeks after you go home from hospital; this is normal "
    "and your energy will come back slowly as your body heals and you start to walk a "
    "little further every day."
)
LONG_LIST = (
    "Signs of a clot are pain, swelling, warmth, redness, and tenderness in one calf or "
    "leg or in the back of the knee or thigh that were not there before the operation "
    "and do not go away."
)

ALL_CASES = UNITS + NUMBERS + TIMES + WORDS + MARKDOWN + PROTECTED


@pytest.mark.parametrize(("text", "expected"), ALL_CASES)
def test_spoken_form(text: str, expected: str) -> None:
    assert spoken_form(text) == expected


@pytest.mark.parametrize("text", [case[0] for case in ALL_CASES] + [LONG, LONG_SEMICOLON])
def test_idempotent(text: str) -> None:
    once = spoken_form(text)
    assert spoken_form(once) == once


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.md")), ids=lambda p: p.name)
def test_whole_documents_idempotent_and_plain(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    once = spoken_form(text)
    assert spoken_form(once) == once
    assert not re.search(r"[*#`|]|\n|\]\(", once)
    # Acronyms keep their capitals for the voice to spell them.
    for acronym in ("PSA", "GP", "NHS", "DVT"):
        assert once.count(acronym) == text.count(acronym)


@pytest.mark.parametrize(
    "text",
    [
        "Call 01223 000 000 or 116 123 if you feel low.",
        "Your PSA of 0.03 ng/mL on 2026-11-20 was fine; see Dr Patel at 10:30.",
        "Around 40% of men, 1 in 5, after 12 months and 2 hrs.",
    ],
)
def test_every_digit_group_survives(text: str) -> None:
    said = spoken_form(text)
    for group in re.findall(r"\d+(?:[.,:]\d+)*", text):
        assert group in said


@pytest.mark.parametrize("phone", ["01223 000 000", "116 123", "0800 123 4567", "+44 20 7946 0000"])
@pytest.mark.parametrize(
    "template",
    ["Call {}.", "Ring {} 24/7.", "On {}, about 7-10 days.", "- Phone {}\n- Or 999"],
)
def test_phone_numbers_intact_in_any_context(phone: str, template: str) -> None:
    assert phone in spoken_form(template.format(phone))


def test_empty_and_blank() -> None:
    assert spoken_form("") == ""
    assert spoken_form("  \n\n ") == ""
    assert spoken_form("---") == ""


def test_whitespace_collapsed() -> None:
    assert spoken_form("Rest   well.\t Walk\u00a0daily.") == "Rest well. Walk daily."


def test_long_sentence_split_at_and() -> None:
    said = spoken_form(LONG)
    assert said == (
        "Some men leak a little when they cough or sneeze for several months after the "
        "operation. And this usually gets better as the pelvic floor muscles get stronger "
        "with daily exercises over the first year."
    )


def test_long_sentence_split_at_semicolon() -> None:
    said = spoken_form(LONG_SEMICOLON)
    assert said == (
        "You may feel tired for some weeks after you go home from hospital. This is normal "
        "and your energy will come back slowly as your body heals and you start to walk a "
        "little further every day."
    )


def test_long_sentence_not_split_inside_a_list() -> None:
    # ", and tenderness" ends a list, not a clause: cutting there would leave a fragment.
    assert spoken_form(LONG_LIST) == LONG_LIST


def test_short_sentences_untouched() -> None:
    text = "Rest today; walk tomorrow, and drive next week."
    assert spoken_form(text) == text


def test_long_answer_sentences_are_short_where_a_safe_cut_exists() -> None:
    text = " ".join([LONG, LONG_SEMICOLON, "Call us if you are worried."])
    for sentence in split_sentences(spoken_form(text)):
        assert len(sentence.split()) <= MAX_SENTENCE_WORDS


def test_no_meaning_change_in_plain_prose() -> None:
    text = "Most men can drive again once the catheter is out. Ask your team first."
    assert spoken_form(text) == text


def test_private_use_characters_dropped() -> None:
    assert spoken_form("Call \ue000 116 123.") == "Call 116 123."


LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# Thursday 26 November 2026, 09:00 in London (14:00 UTC is 09:00 in New York).
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2026, 11, 26, 10, 30, tzinfo=LONDON), "today at 10:30"),
        (datetime(2026, 11, 26, 15, 0, tzinfo=LONDON), "today at 3 pm"),
        (datetime(2026, 11, 26, 15, 45, tzinfo=LONDON), "today at 3:45 pm"),
        (datetime(2026, 11, 27, 14, 0, tzinfo=LONDON), "tomorrow at 2 pm"),
        (datetime(2026, 11, 27, 9, 0, tzinfo=LONDON), "tomorrow at 9 am"),
        (datetime(2026, 11, 27, 12, 0, tzinfo=LONDON), "tomorrow at midday"),
        (datetime(2026, 11, 27, 0, 0, tzinfo=LONDON), "tomorrow at midnight"),
        (datetime(2026, 11, 27, 7, 15, tzinfo=LONDON), "tomorrow at 7:15 am"),
        (datetime(2026, 11, 30, 10, 30, tzinfo=LONDON), "on Monday at 10:30"),
        (datetime(2026, 12, 2, 12, 0, tzinfo=LONDON), "on Wednesday at midday"),
        (
            datetime(2026, 12, 3, 10, 30, tzinfo=LONDON),
            "on Thursday the 3rd of December at 10:30",
        ),
        (datetime(2026, 12, 11, 16, 0, tzinfo=LONDON), "on Friday the 11th of December at 4 pm"),
        (datetime(2026, 12, 22, 9, 0, tzinfo=LONDON), "on Tuesday the 22nd of December at 9 am"),
        (datetime(2027, 1, 1, 9, 0, tzinfo=LONDON), "on Friday the 1st of January at 9 am"),
        (datetime(2027, 8, 1, 9, 15, tzinfo=LONDON), "on Sunday the 1st of August 2027 at 9:15"),
        # New York: 09:00 London is 04:00 in New York, still the 26th.
        (datetime(2026, 11, 26, 23, 30, tzinfo=NEW_YORK), "today at 11:30 pm"),
        (datetime(2026, 11, 27, 8, 0, tzinfo=NEW_YORK), "tomorrow at 8 am"),
        (datetime(2026, 12, 1, 13, 30, tzinfo=NEW_YORK), "on Tuesday at 1:30 pm"),
    ],
)
def test_spoken_datetime(when: datetime, expected: str) -> None:
    assert spoken_datetime(when, NOW) == expected


def test_spoken_datetime_uses_the_appointments_own_day() -> None:
    # 01:00 on the 27th in London is still the evening of the 26th in New York.
    now = datetime(2026, 11, 27, 1, 0, tzinfo=LONDON)
    assert spoken_datetime(datetime(2026, 11, 26, 21, 0, tzinfo=NEW_YORK), now) == "today at 9 pm"
    assert spoken_datetime(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON), now) == "today at 10 am"


def test_spoken_datetime_across_a_clock_change() -> None:
    now = datetime(2027, 3, 27, 18, 0, tzinfo=LONDON)  # the evening before summer time
    when = (now.astimezone(UTC) + timedelta(hours=16)).astimezone(LONDON)
    assert spoken_datetime(when, now) == "tomorrow at 11 am"


def test_spoken_datetime_needs_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        spoken_datetime(datetime(2026, 11, 27, 10, 0), NOW)
    with pytest.raises(ValueError, match="aware"):
        spoken_datetime(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON), datetime(2026, 11, 26))
