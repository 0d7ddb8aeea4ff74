"""The weekly review digest: documents past their review date (or soon due), sent to
clinicians by webhook and/or email through a durable outbox of its own.

The digest goes through ``escalation.outbox.AlertOutbox`` (rows before sending, retries with
backoff, a restart resumes), under its own timer topic and with channels that speak of
documents, not escalations. Its payload carries only document titles and dates.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from app.workspace.document_views import DocumentSummary
from app.workspace.documents import DocumentDesk
from app.workspace.settings import WorkspaceSettings
from escalation.email import EmailChannel
from escalation.errors import DeliveryError
from escalation.jobs import MEMORY_STORE
from escalation.notifications import AlertChannel, AlertMessage
from escalation.outbox import AlertOutbox
from escalation.settings import EscalationSettings
from escalation.webhook import sign

log = logging.getLogger("aftercare.digest")

EVENT = "documents.review_due"
JOB_ID = "review-digest"
SOON_DAYS = 30


@dataclass(frozen=True)
class ReviewDigest:
    day: date
    overdue: list[DocumentSummary]
    due_soon: list[DocumentSummary]

    @property
    def id(self) -> str:
        return f"review-digest-{self.day.isoformat()}"

    @property
    def empty(self) -> bool:
        return not self.overdue and not self.due_soon

    def text(self, link: str) -> str:
        lines = [f"Aftercare document review, {self.day:%A %d %B %Y}.", ""]
        if self.overdue:
            lines.append(f"Past their review date ({len(self.overdue)}):")
            lines += [
                f"- {d.title} (version {d.version}, due {d.review_due}, "
                f"{'still answering patients' if d.live else 'no longer answering patients'})"
                for d in self.overdue
            ]
            lines.append("")
        if self.due_soon:
            lines.append(f"Due within {SOON_DAYS} days ({len(self.due_soon)}):")
            lines += [
                f"- {d.title} (version {d.version}, due {d.review_due})" for d in self.due_soon
            ]
            lines.append("")
        lines.append(f"Review them in the clinician workspace: {link}")
        return "\n".join(lines)


def build_digest(documents: Sequence[DocumentSummary], today: date) -> ReviewDigest:
    """Pure: which approved documents the digest lists, most overdue first."""
    approved = [d for d in documents if d.status == "approved" and d.review_due is not None]
    overdue = sorted((d for d in approved if d.overdue), key=lambda d: (d.review_due, d.doc_id))
    soon_limit = today + timedelta(days=SOON_DAYS)
    due_soon = sorted(
        (d for d in approved if not d.overdue and d.review_due and d.review_due <= soon_limit),
        key=lambda d: (d.review_due, d.doc_id),
    )
    return ReviewDigest(today, overdue, due_soon)


class DigestWebhookChannel:
    """The digest as signed JSON to the clinicians' webhook (same signature scheme as alerts)."""

    name = "webhook"

    def __init__(self, client: httpx.AsyncClient, url: str, secret: SecretStr) -> None:
        self._client = client
        self._url = url
        self._secret = secret

    def render(self, message: AlertMessage) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "event": message.event,
                "digest_id": message.escalation_id,
                "delivery_id": message.delivery_id,
                "sent_at": message.sent_at.isoformat(),
                "text": message.payload.get("question", ""),
                "link": message.payload.get("link", ""),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        timestamp = str(int(message.sent_at.timestamp()))
        return body, {
            "Content-Type": "application/json",
            "User-Agent": "Aftercare-Digest/1",
            "X-Aftercare-Event": message.event,
            "X-Aftercare-Delivery": message.delivery_id,
            "X-Aftercare-Timestamp": timestamp,
            "X-Aftercare-Signature": sign(self._secret, timestamp, body),
        }

    async def deliver(self, message: AlertMessage) -> None:
        body, headers = self.render(message)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"the clinicians' webhook could not be reached ({type(exc).__name__})"
            ) from exc
        if not response.is_success:
            raise DeliveryError(f"the clinicians' webhook answered HTTP {response.status_code}")


class DigestEmailChannel(EmailChannel):
    """The digest as a plain email to clinicians, through the alerts' mail server."""

    async def deliver(self, message: AlertMessage) -> None:
        email = EmailMessage()
        email["Subject"] = "[Aftercare] Documents due for review"
        email["From"] = self._sender
        email["To"] = ", ".join(self._recipients)
        email["Date"] = format_datetime(message.sent_at)
        email["X-Aftercare-Event"] = message.event
        email["X-Aftercare-Delivery"] = message.delivery_id
        email.set_content(str(message.payload.get("question", "")) + "\n")
        await asyncio.to_thread(self._send, email)


def digest_channels(
    workspace: WorkspaceSettings, escalation: EscalationSettings, client: httpx.AsyncClient
) -> list[AlertChannel]:
    channels: list[AlertChannel] = []
    if workspace.digest_webhook_url and workspace.digest_webhook_secret:
        channels.append(
            DigestWebhookChannel(
                client, workspace.digest_webhook_url, workspace.digest_webhook_secret
            )
        )
    if workspace.digest_email_to and escalation.smtp_host:
        channels.append(DigestEmailChannel.from_settings(escalation, workspace.digest_email_to))
    return channels


class ReviewReminders:
    """Builds the digest and queues it on its outbox; a weekly job calls ``send``."""

    def __init__(
        self,
        desk: DocumentDesk,
        settings: WorkspaceSettings,
        channels: Sequence[AlertChannel],
        sessions: sessionmaker[Session],
        scheduler: AsyncIOScheduler,
        clock: Callable[[], datetime],
        link: str,
    ) -> None:
        self._desk = desk
        self._settings = settings
        self._scheduler = scheduler
        self._clock = clock
        self._link = link
        self.outbox = AlertOutbox(
            sessions=sessions,
            scheduler=scheduler,
            channels=channels,
            on_failed=self._failed,
            clock=clock,
            name="review-digest",
            events=(EVENT,),
        )

    def digest(self) -> ReviewDigest:
        return build_digest(self._desk.documents(), self._clock().date())

    async def send(self) -> ReviewDigest:
        digest = await asyncio.to_thread(self.digest)
        if digest.empty or not self.outbox.channels:
            return digest
        payload = {
            "id": digest.id,
            "question": digest.text(self._link),
            "created_at": self._clock().isoformat(),
            "link": self._link,
        }
        self.outbox.enqueue(digest.id, EVENT, payload)
        return digest

    async def start(self) -> None:
        await self.outbox.start()
        self._scheduler.add_job(
            self.send,
            "cron",
            day_of_week=self._settings.digest_day,
            hour=self._settings.digest_hour,
            id=JOB_ID,
            jobstore=MEMORY_STORE,
            replace_existing=True,
        )

    async def stop(self) -> None:
        await self.outbox.stop()

    def _failed(self, digest_id: str, reason: str) -> None:
        log.error("review digest %s was not delivered: %s", digest_id, reason)
