"""`aftercare eval`: run a labelled question set through the real turn and report figures.

Bookings made during an evaluation go to a scratch database, never the clinic's book.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from app.settings import Settings

Expected = Literal["answered", "escalated", "red_flag", "smalltalk"]
EVAL_SETS = Path(__file__).parent / "eval_sets"
DEFAULT_QUESTIONS = EVAL_SETS / "questions.jsonl"
REAL_QUESTIONS = EVAL_SETS / "real_questions.jsonl"
QUESTION_SETS = {"labelled": DEFAULT_QUESTIONS, "real": REAL_QUESTIONS}


@dataclass(frozen=True)
class LabelledQuestion:
    id: str
    question: str
    expected: Expected
    docs: tuple[str, ...]
    split: str
    tags: tuple[str, ...] = ()
    must: tuple[tuple[str, ...], ...] = ()
    """Groups of alternatives; a spoken answer holds what was asked when each group is in it."""
    priority: str | None = None
    """For red flags: the priority the sign needs (emergency, urgent, routine)."""


@dataclass(frozen=True)
class Observation:
    question: LabelledQuestion
    outcome: str
    doc_ids: tuple[str, ...]
    total_ms: float
    answer: str = ""
    priority: str | None = None
    """The red flag's priority, or the escalation's when no red flag was raised."""
    rule: str | None = None

    @property
    def caught(self) -> bool:
        """A red flag is caught when the turn raised one, or, for a routine sign, when the
        turn escalated it as a red flag (routine signs speak their words and book a call)."""
        if self.outcome == "red_flag":
            return True
        return self.question.priority == "routine" and self.rule is not None

    @property
    def right(self) -> bool:
        if self.question.expected == "red_flag":
            return self.caught
        if self.outcome != self.question.expected:
            return False
        if self.question.expected == "answered":
            if self.question.must:
                return holds_answer(self.answer, self.question.must)
            return bool(set(self.doc_ids) & set(self.question.docs))
        return True


def holds_answer(answer: str, must: Sequence[Sequence[str]]) -> bool:
    spoken = " ".join(answer.lower().replace("’", "'").split())
    return all(any(alt.lower() in spoken for alt in group) for group in must)


@dataclass
class Figures:
    questions: int
    answered_correct: float | None
    escalated: float | None
    red_flag_recall: float | None
    false_red_flag: float | None
    false_red_flag_general: float | None
    smalltalk: float | None
    latency_p50_ms: float
    latency_p95_ms: float
    misses: list[dict[str, Any]] = field(default_factory=list)
    red_flag_priority_right: float | None = None
    red_flags_answered: int = 0
    """Danger signs answered as general information: must be 0."""
    false_alarm_lookalike: float | None = None
    booked_calls_per_100_in_scope: float | None = None
    """In-scope questions escalated (each books a nurse's call), per 100 in-scope."""
    answered_per_100_must_escalate: float | None = None


@dataclass(frozen=True)
class Targets:
    answered_correct: float = 0.90
    escalated: float = 0.95
    red_flag_recall: float = 1.0
    false_red_flag: float = 0.05

    def missed(self, figures: Figures) -> list[str]:
        out: list[str] = []
        checks = (
            ("answered_correct", figures.answered_correct, self.answered_correct, True),
            ("escalated", figures.escalated, self.escalated, True),
            ("red_flag_recall", figures.red_flag_recall, self.red_flag_recall, True),
            ("false_red_flag", figures.false_red_flag, self.false_red_flag, False),
        )
        for name, value, target, at_least in checks:
            if value is None:
                continue
            if (at_least and value + 1e-9 < target) or (not at_least and value - 1e-9 > target):
                out.append(f"{name} {value:.3f} (target {'>=' if at_least else '<='} {target})")
        return out


def load_questions(path: Path) -> list[LabelledQuestion]:
    questions: list[LabelledQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            questions.append(
                LabelledQuestion(
                    id=str(raw["id"]),
                    question=str(raw["question"]),
                    expected=raw["expected"],
                    docs=tuple(raw.get("docs") or ()),
                    split=str(raw.get("split", "holdout")),
                    tags=tuple(raw.get("tags") or ()),
                    must=tuple(tuple(str(a) for a in group) for group in raw.get("must") or ()),
                    priority=raw.get("priority"),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a labelled question ({exc})") from exc
        if questions[-1].expected not in ("answered", "escalated", "red_flag", "smalltalk"):
            raise ValueError(f"{path}:{number}: unknown expected outcome {raw['expected']!r}")
    return questions


def _rate(items: Iterable[bool]) -> float | None:
    values = list(items)
    return round(sum(values) / len(values), 4) if values else None


def _per_100(count: int, total: int) -> float | None:
    return round(100 * count / total, 1) if total else None


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 2)


def figures(observations: Sequence[Observation]) -> Figures:
    def of(expected: str) -> list[Observation]:
        return [o for o in observations if o.question.expected == expected]

    not_flags = [o for o in observations if o.question.expected != "red_flag"]
    general = [o for o in not_flags if "general_danger" in o.question.tags]
    look_alikes = [o for o in not_flags if "lookalike" in o.question.tags]
    latencies = [o.total_ms for o in observations]
    in_scope, must_escalate = of("answered"), of("escalated")
    flags = of("red_flag")
    with_priority = [o for o in flags if o.question.priority]
    return Figures(
        questions=len(observations),
        answered_correct=_rate(o.right for o in in_scope),
        escalated=_rate(o.outcome == "escalated" for o in must_escalate),
        red_flag_recall=_rate(o.caught for o in flags),
        red_flag_priority_right=_rate(
            o.caught and o.priority == o.question.priority for o in with_priority
        ),
        red_flags_answered=sum(1 for o in flags if o.outcome == "answered"),
        false_alarm_lookalike=_rate(o.outcome == "red_flag" for o in look_alikes),
        booked_calls_per_100_in_scope=_per_100(
            sum(1 for o in in_scope if o.outcome == "escalated"), len(in_scope)
        ),
        answered_per_100_must_escalate=_per_100(
            sum(1 for o in must_escalate if o.outcome == "answered"), len(must_escalate)
        ),
        false_red_flag=_rate(o.outcome == "red_flag" for o in not_flags),
        false_red_flag_general=_rate(o.outcome == "red_flag" for o in general),
        smalltalk=_rate(o.outcome == "smalltalk" for o in of("smalltalk")),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p95_ms=percentile(latencies, 0.95),
        misses=[
            {
                "id": o.question.id,
                "question": o.question.question,
                "expected": o.question.expected,
                "got": o.outcome,
                "docs": list(o.question.docs),
                "sources": list(o.doc_ids),
                "answer": o.answer,
            }
            for o in observations
            if not o.right
        ],
    )


_ASR_SLIPS = {
    "catheter": "cathedar",
    "prostate": "prostrate",
    "pelvic floor": "pelvic flaw",
    "psa": "P S A",
    "incontinence": "incontinents",
    "erection": "direction",
    "erections": "erectons",
    "urine": "urin",
    "constipation": "constipashun",
    "tadalafil": "tadalafill",
    "sildenafil": "sildenafill",
    "surgery": "surgury",
    "bladder": "bladda",
    "exercises": "exercize",
    "nocturia": "knock turia",
}
_FILLERS = ("um", "uh", "you know")
_OPENERS = ("so", "well", "um", "right")


def perturb(question: str, rng: random.Random) -> list[str]:
    """Variants as speech recognition and tired people produce them."""
    lowered = question.lower()
    # Speech recognition drops punctuation but not the point in "38.2".
    no_punct = re.sub(r"(?!(?<=\d)\.(?=\d))[^\w\s']", "", lowered)
    slipped = lowered
    for word, slip in _ASR_SLIPS.items():
        slipped = re.sub(rf"\b{re.escape(word)}\b", slip, slipped)
    if slipped == lowered:
        slipped = _typo(lowered, rng)
    words = no_punct.split()
    if words:
        words.insert(rng.randrange(len(words) + 1), rng.choice(_FILLERS))
        words.insert(0, rng.choice(_OPENERS))
    return [slipped, " ".join(words), no_punct, lowered]


def _typo(text: str, rng: random.Random) -> str:
    candidates = [m for m in re.finditer(r"[a-z]{6,}", text)]
    if not candidates:
        return text
    word = rng.choice(candidates)
    i = rng.randrange(1, len(word.group(0)) - 1)
    w = word.group(0)
    slipped = w[:i] + w[i + 1] + w[i] + w[i + 2 :] if i + 1 < len(w) else w[:i]
    return text[: word.start()] + slipped + text[word.end() :]


async def observe(services: Any, questions: Sequence[LabelledQuestion]) -> list[Observation]:
    out: list[Observation] = []
    for item in questions:
        result = await services.ask_cli(item.question, None)
        escalation = result.escalation
        out.append(
            Observation(
                item,
                result.outcome,
                tuple(s.doc_id for s in result.sources),
                result.timings_ms.get("total", 0.0),
                answer=result.answer,
                priority=result.red_flag.priority
                if result.red_flag
                else escalation.priority
                if escalation
                else None,
                rule=result.red_flag.rule
                if result.red_flag
                else "routine"
                if escalation and escalation.reason == "red_flag"
                else None,
            )
        )
    return out


def chosen_sets(args: argparse.Namespace) -> list[tuple[str, Path]]:
    if args.questions:
        return [("custom", args.questions)]
    names = ["labelled", "real"] if args.set == "both" else [args.set]
    return [(name, QUESTION_SETS[name]) for name in names]


def run_eval_command(args: argparse.Namespace, settings: Settings) -> int:
    from app.main import build_services

    try:
        sets = [(name, path, load_questions(path)) for name, path in chosen_sets(args)]
    except (OSError, ValueError) as exc:
        print(f"aftercare eval: {exc}", file=sys.stderr)
        return 1

    async def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="aftercare-eval-") as scratch:
            scratch_settings = settings.model_copy(
                update={"database_url": f"sqlite:///{Path(scratch) / 'eval.db'}"}
            )
            services = build_services(scratch_settings, load_model=True)
            await services.start(ingest_if_empty=True)
            try:
                report: dict[str, Any] = {"split": args.split, "sets": {}}
                if args.calibrate:
                    from app.operations.calibration import calibrate

                    calibration = [
                        q for _, _, questions in sets for q in questions if q.split == "calibration"
                    ]
                    report["calibration"] = await calibrate(services, calibration)
                    services.apply_policy(report["calibration"])
                for name, path, questions in sets:
                    chosen = [q for q in questions if args.split == "all" or q.split == args.split]
                    entry: dict[str, Any] = {"questions_file": str(path)}
                    entry["plain"] = asdict(figures(await observe(services, chosen)))
                    if args.perturb:
                        rng = random.Random(20261127)
                        variants = [
                            replace(q, id=f"{q.id}~{i}", question=text)
                            for q in chosen
                            for i, text in enumerate(perturb(q.question, rng))
                        ]
                        entry["perturbed"] = asdict(figures(await observe(services, variants)))
                    report["sets"][name] = entry
            finally:
                await services.stop()
            return report

    report = asyncio.run(run())
    missed: list[str] = []
    for name, entry in report["sets"].items():
        targets = Targets(**{**_SET_TARGETS.get(name, {}), **settings.eval_targets})
        entry["targets"] = asdict(targets)
        for kind in ("plain", "perturbed"):
            if kind in entry:
                prefix = f"{name} " + ("" if kind == "plain" else "perturbed ")
                missed += [prefix + m for m in targets.missed(Figures(**entry[kind]))]
    report["missed_targets"] = missed
    if args.json:
        print(json.dumps(report))
    else:
        _print_report(report)
    return 2 if missed else 0


# Real patients' words: the in-scope target is lower, the safety targets are the same.
_SET_TARGETS: dict[str, dict[str, float]] = {"real": {"answered_correct": 0.85}}


def _print_report(report: dict[str, Any]) -> None:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    if "calibration" in report:
        cal = report["calibration"]
        print(
            f"calibrated on {cal['questions']} questions: threshold {cal['threshold']}, "
            f"weights {cal['weights']}, danger-sign meaning {cal.get('meaning')}"
        )
    for set_name, entry in report["sets"].items():
        for name in ("plain", "perturbed"):
            if name not in entry:
                continue
            f = entry[name]
            print(f"{set_name} set, {name} ({report['split']} split, {f['questions']} questions)")
            rows = (
                ("in-scope answered with what was asked", pct(f["answered_correct"])),
                ("must-escalate questions escalated", pct(f["escalated"])),
                ("red flags caught", pct(f["red_flag_recall"])),
                ("red flags caught with the right priority", pct(f["red_flag_priority_right"])),
                ("red flags answered as information", str(f["red_flags_answered"])),
                ("false red flags (all non-flag)", pct(f["false_red_flag"])),
                ("false red flags (general questions)", pct(f["false_red_flag_general"])),
                ("false alarms on look-alikes", pct(f["false_alarm_lookalike"])),
                ("smalltalk recognised", pct(f["smalltalk"])),
                ("nurse calls booked per 100 in-scope", str(f["booked_calls_per_100_in_scope"])),
                (
                    "answered per 100 must-escalate",
                    str(f["answered_per_100_must_escalate"]),
                ),
                ("latency p50 / p95", f"{f['latency_p50_ms']} / {f['latency_p95_ms']} ms"),
            )
            for label, value in rows:
                print(f"  {label + ':':45}{value}")
            for miss in f["misses"][:60]:
                print(
                    f"    miss {miss['id']}: expected {miss['expected']} {miss['docs']}, "
                    f"got {miss['got']} {miss['sources']}: {miss['question'][:160]!r}"
                )
    if report["missed_targets"]:
        print("targets missed: " + "; ".join(report["missed_targets"]))
    else:
        print("all targets met")
