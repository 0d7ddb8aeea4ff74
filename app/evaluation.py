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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.settings import Settings

Expected = Literal["answered", "escalated", "red_flag", "smalltalk"]
DEFAULT_QUESTIONS = Path("tests/eval/questions.jsonl")


@dataclass(frozen=True)
class LabelledQuestion:
    id: str
    question: str
    expected: Expected
    docs: tuple[str, ...]
    split: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    question: LabelledQuestion
    outcome: str
    doc_ids: tuple[str, ...]
    total_ms: float

    @property
    def right(self) -> bool:
        if self.outcome != self.question.expected:
            return False
        if self.question.expected == "answered":
            return bool(set(self.doc_ids) & set(self.question.docs))
        return True


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
    latencies = [o.total_ms for o in observations]
    return Figures(
        questions=len(observations),
        answered_correct=_rate(o.right for o in of("answered")),
        escalated=_rate(o.outcome == "escalated" for o in of("escalated")),
        red_flag_recall=_rate(o.outcome == "red_flag" for o in of("red_flag")),
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
        out.append(
            Observation(
                item,
                result.outcome,
                tuple(s.doc_id for s in result.sources),
                result.timings_ms.get("total", 0.0),
            )
        )
    return out


def run_eval_command(args: argparse.Namespace, settings: Settings) -> int:
    from app.main import build_services

    path: Path = args.questions or DEFAULT_QUESTIONS
    try:
        questions = load_questions(path)
    except (OSError, ValueError) as exc:
        print(f"aftercare eval: {exc}", file=sys.stderr)
        return 1
    chosen = [q for q in questions if args.split == "all" or q.split == args.split]

    async def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="aftercare-eval-") as scratch:
            scratch_settings = settings.model_copy(
                update={"database_url": f"sqlite:///{Path(scratch) / 'eval.db'}"}
            )
            services = build_services(scratch_settings, load_model=True)
            await services.start(ingest_if_empty=True)
            try:
                report: dict[str, Any] = {"questions_file": str(path), "split": args.split}
                if args.calibrate:
                    from app.calibration import calibrate

                    calibration = [q for q in questions if q.split == "calibration"]
                    report["calibration"] = calibrate(services, calibration)
                    services.apply_policy(report["calibration"])
                plain = figures(await observe(services, chosen))
                report["plain"] = asdict(plain)
                if args.perturb:
                    rng = random.Random(20261127)
                    variants = [
                        LabelledQuestion(f"{q.id}~{i}", text, q.expected, q.docs, q.split, q.tags)
                        for q in chosen
                        for i, text in enumerate(perturb(q.question, rng))
                    ]
                    report["perturbed"] = asdict(figures(await observe(services, variants)))
            finally:
                await services.stop()
            return report

    report = asyncio.run(run())
    targets = Targets(**settings.eval_targets)
    missed = targets.missed(Figures(**report["plain"]))
    if "perturbed" in report:
        missed += [f"perturbed {m}" for m in targets.missed(Figures(**report["perturbed"]))]
    report["targets"] = asdict(targets)
    report["missed_targets"] = missed
    if args.json:
        print(json.dumps(report))
    else:
        _print_report(report)
    return 2 if missed else 0


def _print_report(report: dict[str, Any]) -> None:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    if "calibration" in report:
        cal = report["calibration"]
        print(
            f"calibrated on {cal['questions']} questions: threshold {cal['threshold']}, "
            f"weights {cal['weights']}"
        )
    for name in ("plain", "perturbed"):
        if name not in report:
            continue
        f = report[name]
        print(f"{name} ({report['split']} split, {f['questions']} questions)")
        print(f"  in-scope answered with a right source: {pct(f['answered_correct'])}")
        print(f"  must-escalate questions escalated:     {pct(f['escalated'])}")
        print(f"  red flags caught:                      {pct(f['red_flag_recall'])}")
        print(f"  false red flags (all non-flag):        {pct(f['false_red_flag'])}")
        print(f"  false red flags (general questions):   {pct(f['false_red_flag_general'])}")
        print(f"  smalltalk recognised:                  {pct(f['smalltalk'])}")
        print(
            f"  latency p50 / p95:                     {f['latency_p50_ms']} / "
            f"{f['latency_p95_ms']} ms"
        )
        for miss in f["misses"][:40]:
            print(
                f"    miss {miss['id']}: expected {miss['expected']} {miss['docs']}, "
                f"got {miss['got']} {miss['sources']}: {miss['question']}"
            )
    if report["missed_targets"]:
        print("targets missed: " + "; ".join(report["missed_targets"]))
    else:
        print("all targets met")
