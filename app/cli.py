"""The `aftercare` command: ingest, ask, serve, eval, staff and patient administration."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from app.settings import Settings, load_settings

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL = 0, 1, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except Exception as exc:  # settings errors are reported, never a traceback
        print(f"aftercare: invalid settings: {exc}", file=sys.stderr)
        return EXIT_FATAL
    handler = args.handler
    try:
        code: int = handler(args, settings)
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftercare",
        description="Answers for men recovering from prostate surgery, from approved documents.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="bring the index in line with the corpus folder")
    ingest.add_argument("--corpus", type=Path, help="corpus folder (default: setting)")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.set_defaults(handler=_cmd_ingest)

    ask = sub.add_parser("ask", help="ask questions; one JSON object per question")
    ask.add_argument("question", nargs="*", help="question words, or several quoted questions")
    ask.add_argument("--file", type=Path, help="one question per line, or JSON lines")
    ask.add_argument("--patient", help="the registered patient asking")
    ask.add_argument("--json", action="store_true", help="JSON lines output (the contract)")
    ask.set_defaults(handler=_cmd_ask)

    serve = sub.add_parser("serve", help="serve the API and the pages")
    serve.add_argument("--host", help="default 127.0.0.1")
    serve.add_argument("--port", type=int, help="default 8000")
    serve.set_defaults(handler=_cmd_serve)

    ev = sub.add_parser("eval", help="run a labelled question set and report the figures")
    ev.add_argument("--questions", type=Path, help="JSON lines question set (instead of --set)")
    ev.add_argument(
        "--set",
        choices=["labelled", "real", "both"],
        default="both",
        help="the labelled set, real patients' words, or both (default)",
    )
    ev.add_argument("--split", choices=["calibration", "holdout", "all"], default="holdout")
    ev.add_argument("--perturb", action="store_true", help="also run perturbed variants")
    ev.add_argument(
        "--calibrate", action="store_true", help="fit the policy on the calibration split"
    )
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=_cmd_eval)

    staff = sub.add_parser("staff", help="staff keys")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    staff_add = staff_sub.add_parser("add", help="create a staff key (shown once)")
    staff_add.add_argument("--name", required=True)
    staff_add.add_argument("--role", required=True, choices=["coordinator", "clinician", "admin"])
    staff_add.set_defaults(handler=_cmd_staff_add)

    patient = sub.add_parser("patient", help="registered patients")
    patient_sub = patient.add_subparsers(dest="patient_command", required=True)
    patient_add = patient_sub.add_parser("add", help="register a patient (key shown once)")
    patient_add.add_argument("patient_id")
    patient_add.add_argument("--name", required=True)
    patient_add.add_argument("--surgery-date", type=date.fromisoformat)
    patient_add.add_argument(
        "--surgery-type", "--approach", dest="approach", choices=["robotic", "laparoscopic", "open"]
    )
    patient_add.add_argument("--catheter-out", type=date.fromisoformat)
    patient_add.add_argument(
        "--phone", help="his phone number; national numbers in the clinic's country"
    )
    patient_add.add_argument("--dob", type=date.fromisoformat, help="date of birth, YYYY-MM-DD")
    patient_add.add_argument("--preferred-contact", choices=["phone", "sms", "email"])
    patient_add.set_defaults(handler=_cmd_patient_add)
    return parser


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from app.main import build_services
    from ingestion.errors import IngestionError

    corpus = args.corpus or settings.corpus_dir
    try:
        services = build_services(settings, load_model=True)
        report = services.ingest(corpus, progress=_progress_bar(args.json))
    except IngestionError as exc:
        _fail(str(exc), args.json)
        return EXIT_FATAL
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        for doc in report.documents:
            line = f"{doc.status:<9} {doc.doc_id or '-':<32} {doc.chunks:>3} chunks  {doc.path}"
            print(line + (f"\n          {doc.error}" if doc.error else ""))
        counts = report.counts
        print(", ".join(f"{n} {status}" for status, n in counts.items()))
    return EXIT_PARTIAL if report.counts["failed"] else EXIT_OK


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from app.errors import AppError
    from app.main import build_services
    from app.schemas import AskResponse
    from ingestion.errors import IngestionError

    try:
        questions = _questions(args)
    except (OSError, ValueError) as exc:
        _fail(str(exc), True)
        return EXIT_FATAL
    if not questions:
        _fail("no question given: pass it as words or with --file", True)
        return EXIT_FATAL

    async def run() -> int:
        services = build_services(settings, load_model=True)
        await services.start(ingest_if_empty=True)
        try:
            for question in questions:
                result = await services.ask_cli(question, args.patient)
                body = AskResponse.of(result)
                if args.json:
                    print(body.model_dump_json(), flush=True)
                else:
                    print(f"[{body.outcome}] {body.answer}")
                    for source in body.sources:
                        print(f"    source: {source.title} > {source.section} ({source.score:.2f})")
        finally:
            await services.stop()
        return EXIT_OK

    try:
        return asyncio.run(run())
    except (AppError, IngestionError) as exc:
        _fail(str(exc), True)
        return EXIT_FATAL


def _questions(args: argparse.Namespace) -> list[str]:
    questions: list[str] = []
    if args.question:
        joined = " ".join(args.question)
        # Several quoted questions come as several arguments ending in '?'.
        parts = args.question if all(q.strip().endswith("?") for q in args.question) else [joined]
        questions.extend(p for p in parts if p.strip())
    if args.file:
        for number, line in enumerate(args.file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                try:
                    item: Any = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{args.file}:{number}: not valid JSON: {exc.msg}") from exc
                if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                    raise ValueError(f"{args.file}:{number}: JSON line needs a 'question' string")
                questions.append(item["question"])
            else:
                questions.append(line.strip())
    return questions


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    print(
        f"Aftercare is starting on http://{host}:{port}/ (patient page), "
        f"http://{host}:{port}/coordinator (care coordinators)",
        flush=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        ws_ping_interval=20,
        ws_ping_timeout=20,
    )
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from app.evaluation import run_eval_command

    return run_eval_command(args, settings)


def _cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    from app.main import build_services

    services = build_services(settings, load_model=False)
    member, key = services.people.add_staff(args.name, args.role)
    print(json.dumps({"id": member.id, "name": member.name, "role": member.role, "key": key}))
    print("Keep this key safe: it is shown only once.", file=sys.stderr)
    return EXIT_OK


def _cmd_patient_add(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from app.errors import AppError
    from app.main import build_services
    from app.patient_records import register_patient
    from app.schemas_patients import NewPatient

    services = build_services(settings, load_model=False)
    try:
        new = NewPatient(
            id=args.patient_id,
            name=args.name,
            phone=args.phone,
            date_of_birth=args.dob,
            surgery_date=args.surgery_date,
            surgery_type=args.approach,
            catheter_out_on=args.catheter_out,
            preferred_contact=args.preferred_contact,
        )
        patient, key = register_patient(services, new)
    except ValidationError as exc:
        _fail("; ".join(str(e["msg"]) for e in exc.errors()), True)
        return EXIT_FATAL
    except (AppError, ValueError) as exc:
        _fail(str(exc), True)
        return EXIT_FATAL
    print(
        json.dumps(
            {"id": patient.id, "name": patient.display_name, "phone": patient.phone, "key": key}
        )
    )
    print("Give this key to the patient: it is shown only once.", file=sys.stderr)
    return EXIT_OK


def _progress_bar(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(desc="ingesting", unit="doc", file=sys.stderr, leave=False)

    def step(doc_id: str) -> None:
        bar.set_postfix_str(doc_id)
        bar.update(1)

    return step


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": message}), file=sys.stderr)
    else:
        print(f"aftercare: {message}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
