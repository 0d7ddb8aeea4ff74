"""The staff, patient and audit commands: they open only the people records (see
``app.people.desk``), so they start without loading the model or the index."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from app.operations.cli_common import EXIT_FATAL, EXIT_OK, EXIT_TAMPERED, fail, iso
from app.settings import Settings


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    from app.people.desk import open_people

    services = open_people(settings)
    days = args.expires_days if args.expires_days is not None else settings.security.staff_key_days
    try:
        member, key = services.people.add_staff(args.name, args.role, expires_in_days=days)
    except ValueError as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    print(
        json.dumps(
            {
                "id": member.id,
                "name": member.name,
                "role": member.role,
                "expires_at": member.expires_at.isoformat() if member.expires_at else None,
                "key": key,
            }
        )
    )
    print("Keep this key safe: it is shown only once.", file=sys.stderr)
    return EXIT_OK


def cmd_patient_add(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from app.channels.schemas_patients import NewPatient
    from app.errors import AppError
    from app.people.desk import open_people
    from app.people.registration import register_patient

    services = open_people(settings)
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
        fail("; ".join(str(e["msg"]) for e in exc.errors()), True)
        return EXIT_FATAL
    except (AppError, ValueError) as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    print(
        json.dumps(
            {"id": patient.id, "name": patient.display_name, "phone": patient.phone, "key": key}
        )
    )
    print("Give this key to the patient: it is shown only once.", file=sys.stderr)
    return EXIT_OK


# ``patient update --clear NAME``: the record field each name removes.
CLEARABLE = {
    "phone": "phone",
    "dob": "date_of_birth",
    "surgery-date": "surgery_date",
    "surgery-type": "surgery_type",
    "catheter-out": "catheter_out_on",
    "preferred-contact": "preferred_contact",
}


def cmd_patient_update(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from app.channels.schemas_patients import PatientChanges, PatientPublic
    from app.errors import AppError
    from app.people.desk import open_people
    from app.people.registration import update_patient

    given = {
        "name": args.name,
        "phone": args.phone,
        "date_of_birth": args.dob,
        "surgery_date": args.surgery_date,
        "surgery_type": args.approach,
        "catheter_out_on": args.catheter_out,
        "preferred_contact": args.preferred_contact,
    }
    values: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    values.update({CLEARABLE[name]: None for name in args.clear})
    services = open_people(settings)
    try:
        changes = PatientChanges.model_validate(values)
        patient, changed = update_patient(services, args.patient_id, changes, "cli")
    except ValidationError as exc:
        fail("; ".join(str(e["msg"]) for e in exc.errors()), True)
        return EXIT_FATAL
    except (AppError, ValueError) as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    print(json.dumps({**PatientPublic.of(patient).model_dump(mode="json"), "changed": changed}))
    return EXIT_OK


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    from app.people.desk import open_people

    services = open_people(settings)
    for member in services.people.list_staff():
        print(
            json.dumps(
                {
                    "id": member.id,
                    "name": member.name,
                    "role": member.role,
                    "created_at": iso(member.created_at),
                    "expires_at": iso(member.expires_at),
                    "revoked_at": iso(member.revoked_at),
                    "last_used_at": iso(member.last_used_at),
                }
            )
        )
    return EXIT_OK


def cmd_staff_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from app.people.desk import open_people

    services = open_people(settings)
    try:
        member = services.people.revoke_staff(args.staff_id)
    except ValueError as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    print(json.dumps({"id": member.id, "revoked_at": iso(member.revoked_at)}))
    return EXIT_OK


def cmd_patient_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from app.errors import UnknownPatientError
    from app.people.desk import open_people

    services = open_people(settings)
    try:
        key = services.people.rotate_patient_key(args.patient_id)
    except UnknownPatientError as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    print(json.dumps({"id": args.patient_id, "key": key}))
    print("Give this key to the patient: the old one no longer works.", file=sys.stderr)
    return EXIT_OK


def cmd_patient_link(args: argparse.Namespace, settings: Settings) -> int:
    from app.errors import UnknownPatientError
    from app.people.desk import open_people

    services = open_people(settings)
    ttl = settings.security.link_code_ttl_s
    try:
        code = services.people.link_code(args.patient_id, ttl)
    except UnknownPatientError as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    base = settings.escalation.public_base_url.rstrip("/")
    print(json.dumps({"id": args.patient_id, "url": f"{base}/?code={code}", "expires_in": ttl}))
    return EXIT_OK


def cmd_patient_export(args: argparse.Namespace, settings: Settings) -> int:
    from app.errors import UnknownPatientError
    from app.main import build_services
    from app.people.governance import export_patient

    services = build_services(settings, load_model=False)
    try:
        data = asyncio.run(export_patient(services, args.patient_id, "cli"))
    except UnknownPatientError as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    print(json.dumps(data, indent=2))
    return EXIT_OK


def cmd_patient_erase(args: argparse.Namespace, settings: Settings) -> int:
    from app.errors import UnknownPatientError
    from app.main import build_services
    from app.people.governance import erase_patient

    if not args.yes:
        fail("erasing a patient cannot be undone: add --yes to confirm", True)
        return EXIT_FATAL
    services = build_services(settings, load_model=False)
    try:
        counts = asyncio.run(erase_patient(services, args.patient_id, "cli"))
    except UnknownPatientError as exc:
        fail(str(exc), True)
        return EXIT_FATAL
    print(json.dumps({"id": args.patient_id, "erased": counts}))
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from app.people.desk import open_people

    services = open_people(settings)
    report = services.people.verify_audit()
    print(
        json.dumps(
            {
                "ok": report.ok,
                "rows": report.rows,
                "broken_at": report.broken_at,
                "problem": report.problem,
            }
        )
    )
    return EXIT_OK if report.ok else EXIT_TAMPERED
