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

from app.operations.cli_common import EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, EXIT_TAMPERED, fail
from app.operations.people_commands import (
    CLEARABLE,
    cmd_audit_verify,
    cmd_patient_add,
    cmd_patient_erase,
    cmd_patient_export,
    cmd_patient_link,
    cmd_patient_rotate,
    cmd_patient_update,
    cmd_staff_add,
    cmd_staff_list,
    cmd_staff_revoke,
)
from app.settings import Settings, load_settings

__all__ = ["EXIT_FATAL", "EXIT_OK", "EXIT_PARTIAL", "EXIT_TAMPERED", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except Exception as exc:  # settings errors are reported, never a traceback
        print(f"aftercare: invalid settings: {exc}", file=sys.stderr)
        return EXIT_FATAL
    handler = args.handler
    from app.operations.schema import DatabaseUnavailableError, SchemaNotCurrentError

    try:
        code: int = handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except (SchemaNotCurrentError, DatabaseUnavailableError) as exc:
        print(f"aftercare: {exc}", file=sys.stderr)
        return EXIT_FATAL
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
    ask.add_argument(
        "--server",
        help="ask a running server (its base URL, e.g. http://127.0.0.1:8000) instead of "
        "loading the index here",
    )
    ask.add_argument(
        "--key-file", type=Path, help="with --server and --patient: a file holding his key"
    )
    ask.set_defaults(handler=_cmd_ask)

    serve = sub.add_parser("serve", help="serve the API and the pages")
    serve.add_argument("--host", help="default 127.0.0.1")
    serve.add_argument("--port", type=int, help="default 8000")
    serve.add_argument(
        "--workers", type=int, default=1, help="web worker processes (AFTERCARE_ROLE=web)"
    )
    serve.set_defaults(handler=_cmd_serve)

    work = sub.add_parser("worker", help="run the deployment's one scheduler (no HTTP)")
    work.add_argument(
        "--status", action="store_true", help="print who holds the scheduler lock (exit 3: none)"
    )
    work.set_defaults(handler=_cmd_worker)

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
    staff_add.add_argument(
        "--expires-days", type=int, help="the key stops working after this many days"
    )
    staff_add.set_defaults(handler=cmd_staff_add)
    staff_list = staff_sub.add_parser("list", help="staff keys: role, expiry, last use (no keys)")
    staff_list.set_defaults(handler=cmd_staff_list)
    staff_revoke = staff_sub.add_parser("revoke", help="stop a staff key working, at once")
    staff_revoke.add_argument("staff_id")
    staff_revoke.set_defaults(handler=cmd_staff_revoke)

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
    patient_add.set_defaults(handler=cmd_patient_add)
    patient_update = patient_sub.add_parser(
        "update", help="change some of a patient's details (the others are kept)"
    )
    patient_update.add_argument("patient_id")
    patient_update.add_argument("--name")
    patient_update.add_argument("--surgery-date", type=date.fromisoformat)
    patient_update.add_argument(
        "--surgery-type", "--approach", dest="approach", choices=["robotic", "laparoscopic", "open"]
    )
    patient_update.add_argument("--catheter-out", type=date.fromisoformat)
    patient_update.add_argument("--phone")
    patient_update.add_argument("--dob", type=date.fromisoformat)
    patient_update.add_argument("--preferred-contact", choices=["phone", "sms", "email"])
    patient_update.add_argument(
        "--clear",
        action="append",
        default=[],
        choices=sorted(CLEARABLE),
        help="remove a detail (repeatable)",
    )
    patient_update.set_defaults(handler=cmd_patient_update)
    rotate = patient_sub.add_parser("rotate-key", help="a new key; the old one stops working")
    rotate.add_argument("patient_id")
    rotate.set_defaults(handler=cmd_patient_rotate)
    link = patient_sub.add_parser("link", help="a one-time link to the patient's page")
    link.add_argument("patient_id")
    link.set_defaults(handler=cmd_patient_link)
    export = patient_sub.add_parser("export", help="everything held about a patient, as JSON")
    export.add_argument("patient_id")
    export.set_defaults(handler=cmd_patient_export)
    erase = patient_sub.add_parser(
        "erase", help="delete a patient's data (the audit keeps it happened)"
    )
    erase.add_argument("patient_id")
    erase.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    erase.set_defaults(handler=cmd_patient_erase)

    db = sub.add_parser("db", help="the database schema (migrations)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_sub.add_parser("upgrade", help="migrate the database to this version")
    db_upgrade.set_defaults(handler=_cmd_db_upgrade)
    db_current = db_sub.add_parser(
        "current", help="the database's schema revision and this version's (exit 1 if behind)"
    )
    db_current.set_defaults(handler=_cmd_db_current)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the audit trail's hash chain")
    verify.set_defaults(handler=cmd_audit_verify)
    return parser


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from app.main import build_services
    from ingestion.errors import IngestionError

    corpus = args.corpus or settings.corpus_dir
    try:
        services = build_services(settings, load_model=True)
        report = services.ingest(corpus, progress=_progress_bar(args.json))
    except IngestionError as exc:
        fail(str(exc), args.json)
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
    from app.channels.schemas import AskResponse
    from app.errors import AppError
    from app.main import build_services
    from ingestion.errors import IngestionError

    try:
        questions = _questions(args)
    except (OSError, ValueError) as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    if not questions:
        fail("no question given: pass it as words or with --file", True)
        return EXIT_FATAL
    if args.server:
        return _ask_server(args, questions)

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
        fail(str(exc), True)
        return EXIT_FATAL


def _ask_server(args: argparse.Namespace, questions: list[str]) -> int:
    """The same contract, answered by a running server over ``POST /v1/ask``."""
    import httpx

    try:
        key = args.key_file.read_text("utf-8").strip() if args.key_file else None
    except OSError as exc:
        fail(f"cannot read the key file: {exc}", True)
        return EXIT_FATAL
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = args.server.rstrip("/") + "/v1/ask"
    with httpx.Client(timeout=120) as client:
        for question in questions:
            try:
                response = client.post(
                    url, json={"question": question, "patient_id": args.patient}, headers=headers
                )
            except httpx.HTTPError as exc:
                fail(f"cannot reach the server at {args.server}: {exc}", True)
                return EXIT_FATAL
            if response.status_code != 200:
                fail(f"the server answered {response.status_code}: {response.text[:300]}", True)
                return EXIT_FATAL
            body = response.json()
            if args.json:
                print(json.dumps(body), flush=True)
            else:
                print(f"[{body['outcome']}] {body['answer']}")
                for src in body["sources"]:
                    print(f"    source: {src['title']} > {src['section']} ({src['score']:.2f})")
    return EXIT_OK


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
    from app.operations.roles import serve

    _wait_for_database(settings)
    return serve(settings, args.host or settings.host, args.port or settings.port, args.workers)


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from app.operations.roles import print_worker_status, worker

    _wait_for_database(settings)
    return print_worker_status(settings) if args.status else worker(settings)


def _wait_for_database(settings: Settings) -> None:
    """Retry a database that does not answer yet (it may be starting beside us)."""
    from app.operations.schema import wait_until_reachable
    from escalation.database import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        wait_until_reachable(
            engine,
            settings.database_wait_s,
            lambda line: print(f"aftercare: {line}", file=sys.stderr),
        )
    finally:
        engine.dispose()


def _cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from app.operations import schema
    from escalation.database import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        before = schema.current(engine)
        after = schema.upgrade(engine)
    finally:
        engine.dispose()
    print(json.dumps({"database": schema.describe(engine), "from": before, "to": after}))
    return EXIT_OK


def _cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    from app.operations import schema
    from escalation.database import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        found, wanted = schema.current(engine), schema.head()
    finally:
        engine.dispose()
    print(
        json.dumps(
            {
                "database": schema.describe(engine),
                "current": found,
                "head": wanted,
                "up_to_date": found == wanted,
            }
        )
    )
    return EXIT_OK if found == wanted else EXIT_FATAL


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from app.operations.evaluation import run_eval_command

    return run_eval_command(args, settings)


def _progress_bar(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(desc="ingesting", unit="doc", file=sys.stderr, leave=False)

    def step(doc_id: str) -> None:
        bar.set_postfix_str(doc_id)
        bar.update(1)

    return step


if __name__ == "__main__":
    raise SystemExit(main())
