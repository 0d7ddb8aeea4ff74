"""The initial schema: every table as the code declared it before migrations existed.

The audit trail's append-only triggers are installed here too (SQLite and PostgreSQL).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# A row may be updated once, while its hashes are still NULL (see ``People._append``).
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events "
    "WHEN OLD.row_hash IS NOT NULL "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]
_POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$ "
    "BEGIN IF TG_OP = 'UPDATE' AND OLD.row_hash IS NULL THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
]


def _protect_audit() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(
        dialect, []
    ):
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("escalation_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_alert_deliveries_escalation_id", "alert_deliveries", ["escalation_id"], unique=False
    )
    op.create_index("ix_alert_deliveries_status", "alert_deliveries", ["status"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("patient_id", sa.String(length=100), nullable=True),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("key_id", sa.String(length=120), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("row_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prev_hash"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"], unique=False)
    op.create_index("ix_audit_events_patient_id", "audit_events", ["patient_id"], unique=False)

    op.create_table(
        "availability",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("clinician_id", sa.String(length=100), nullable=False),
        sa.Column("clinician_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "clinician_id", "weekday", "start_time", "end_time"),
    )
    op.create_table(
        "clinic_closures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "start_date", "end_date"),
    )
    op.create_table(
        "conversation_turns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("turn_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=100), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("red_flag_rule", sa.String(length=80), nullable=True),
        sa.Column("escalation_id", sa.String(length=64), nullable=True),
        sa.Column("sources_json", sa.Text(), nullable=False),
        sa.Column("timings_json", sa.Text(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("feeling", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conversation_turns_at", "conversation_turns", ["at"], unique=False)
    op.create_index(
        "ix_conversation_turns_conversation_id",
        "conversation_turns",
        ["conversation_id"],
        unique=False,
    )
    op.create_index(
        "ix_conversation_turns_outcome", "conversation_turns", ["outcome"], unique=False
    )
    op.create_index(
        "ix_conversation_turns_patient_id", "conversation_turns", ["patient_id"], unique=False
    )
    op.create_index(
        "ix_conversation_turns_turn_id", "conversation_turns", ["turn_id"], unique=False
    )

    op.create_table(
        "document_index_state",
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("doc_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("last_indexed_at", sa.DateTime(), nullable=True),
        sa.Column("last_failure", sa.Text(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("path"),
    )
    op.create_index(
        "ix_document_index_state_doc_id", "document_index_state", ["doc_id"], unique=False
    )

    op.create_table(
        "document_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doc_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before_version", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_document_versions_at", "document_versions", ["at"], unique=False)
    op.create_index("ix_document_versions_doc_id", "document_versions", ["doc_id"], unique=False)

    op.create_table(
        "escalations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("patient_id", sa.String(length=100), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("conversation", sa.JSON(), nullable=False),
        sa.Column("passages", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("red_flag_rule", sa.String(length=100), nullable=True),
        sa.Column(
            "reason",
            sa.Enum(
                "low_confidence",
                "red_flag",
                "patient_request",
                name="escalation_reason",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "routine",
                "urgent",
                "emergency",
                name="escalation_priority",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "acknowledged",
                "booked",
                "resolved",
                "cancelled",
                name="escalation_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("attention_reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("appointment_id", sa.String(length=100), nullable=True),
        sa.Column("conversation_id", sa.String(length=100), nullable=True),
        sa.Column("open_key", sa.String(length=300), nullable=True),
        sa.Column("turn_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("open_key"),
    )
    op.create_index(
        "ix_escalations_conversation_id", "escalations", ["conversation_id"], unique=False
    )
    op.create_index("ix_escalations_created_at", "escalations", ["created_at"], unique=False)
    op.create_index("ix_escalations_patient_id", "escalations", ["patient_id"], unique=False)
    op.create_index("ix_escalations_status", "escalations", ["status"], unique=False)

    op.create_table(
        "page_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("patient_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_page_tokens_patient_id", "page_tokens", ["patient_id"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("surgery_date", sa.Date(), nullable=True),
        sa.Column("approach", sa.String(length=20), nullable=True),
        sa.Column("catheter_out_on", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("preferred_contact", sa.String(length=10), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_patients_key_hash", "patients", ["key_hash"], unique=True)
    op.create_index("ix_patients_phone", "patients", ["phone"], unique=False)

    op.create_table(
        "staff_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_keys_key_hash", "staff_keys", ["key_hash"], unique=True)

    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("escalation_id", sa.String(length=36), nullable=False),
        sa.Column("clinician_id", sa.String(length=100), nullable=False),
        sa.Column("clinician_name", sa.String(length=200), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "cancelled",
                name="appointment_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("external_ref", sa.String(length=500), nullable=True),
        sa.Column("slot_key", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("slot_key"),
    )
    op.create_index(
        "ix_appointments_escalation_id", "appointments", ["escalation_id"], unique=False
    )
    op.create_index("ix_appointments_start", "appointments", ["start"], unique=False)

    op.create_table(
        "escalation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("escalation_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_escalation_events_escalation_id", "escalation_events", ["escalation_id"], unique=False
    )

    op.create_table(
        "turn_marks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("turn_row_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["turn_row_id"], ["conversation_turns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_turn_marks_turn_row_id", "turn_marks", ["turn_row_id"], unique=False)

    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"], unique=False
    )

    _protect_audit()


def downgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")

    op.drop_table("apscheduler_jobs")
    op.drop_index("ix_turn_marks_turn_row_id", table_name="turn_marks")

    op.drop_table("turn_marks")
    op.drop_index("ix_escalation_events_escalation_id", table_name="escalation_events")

    op.drop_table("escalation_events")
    op.drop_index("ix_appointments_start", table_name="appointments")
    op.drop_index("ix_appointments_escalation_id", table_name="appointments")

    op.drop_table("appointments")
    op.drop_index("ix_staff_keys_key_hash", table_name="staff_keys")

    op.drop_table("staff_keys")
    op.drop_index("ix_patients_phone", table_name="patients")
    op.drop_index("ix_patients_key_hash", table_name="patients")

    op.drop_table("patients")
    op.drop_index("ix_page_tokens_patient_id", table_name="page_tokens")

    op.drop_table("page_tokens")
    op.drop_index("ix_escalations_status", table_name="escalations")
    op.drop_index("ix_escalations_patient_id", table_name="escalations")
    op.drop_index("ix_escalations_created_at", table_name="escalations")
    op.drop_index("ix_escalations_conversation_id", table_name="escalations")

    op.drop_table("escalations")
    op.drop_index("ix_document_versions_doc_id", table_name="document_versions")
    op.drop_index("ix_document_versions_at", table_name="document_versions")

    op.drop_table("document_versions")
    op.drop_index("ix_document_index_state_doc_id", table_name="document_index_state")

    op.drop_table("document_index_state")
    op.drop_index("ix_conversation_turns_turn_id", table_name="conversation_turns")
    op.drop_index("ix_conversation_turns_patient_id", table_name="conversation_turns")
    op.drop_index("ix_conversation_turns_outcome", table_name="conversation_turns")
    op.drop_index("ix_conversation_turns_conversation_id", table_name="conversation_turns")
    op.drop_index("ix_conversation_turns_at", table_name="conversation_turns")

    op.drop_table("conversation_turns")
    op.drop_table("clinic_closures")
    op.drop_table("availability")
    op.drop_index("ix_audit_events_patient_id", table_name="audit_events")
    op.drop_index("ix_audit_events_at", table_name="audit_events")

    op.drop_table("audit_events")
    op.drop_index("ix_alert_deliveries_status", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_escalation_id", table_name="alert_deliveries")

    op.drop_table("alert_deliveries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
