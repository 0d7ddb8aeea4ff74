"""Knowing the caller: matched by the platform's caller number, confirmed by his date of
birth said aloud. Until confirmed he gets general answers and no personal data; repeated
wrong dates lock identification for that number for a while.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from app.channels.platforms.phone_numbers import e164_or_none
from app.channels.platforms.spoken_dates import DateOrder, parse_spoken_date
from app.people.directory import Patient, People

Check = Literal["confirmed", "wrong", "locked", "not_a_date", "nobody"]


@dataclass
class Caller:
    """What one call knows about who is calling."""

    number: str | None = None
    candidates: list[Patient] = field(default_factory=list)
    patient: Patient | None = None
    asked: bool = False

    @property
    def confirmed(self) -> bool:
        return self.patient is not None

    @property
    def awaiting_birth_date(self) -> bool:
        return self.patient is None and bool(self.candidates)


class CallerDesk:
    def __init__(
        self,
        people: People,
        clock: Callable[[], datetime],
        country: str,
        date_order: DateOrder,
        max_failures: int,
        lock_s: float,
        capacity: int = 10_000,
    ) -> None:
        self._people = people
        self._clock = clock
        self._country = country
        self._order = date_order
        self._max_failures = max_failures
        self._lock_s = lock_s
        self._capacity = capacity
        self._calls: OrderedDict[str, Caller] = OrderedDict()
        self._failures: dict[str, tuple[int, float]] = {}

    def caller(self, conversation_id: str, number: object) -> Caller:
        """The call's caller; on its first request the number is looked up."""
        known = self._calls.get(conversation_id)
        if known is not None:
            self._calls.move_to_end(conversation_id)
            return known
        e164 = e164_or_none(number, self._country)
        caller = Caller(number=e164)
        if e164 is not None:
            caller.candidates = self._people.patients_by_phone(e164)
        self._calls[conversation_id] = caller
        while len(self._calls) > self._capacity:
            self._calls.popitem(last=False)
        return caller

    def locked(self, caller: Caller) -> bool:
        if caller.number is None:
            return False
        count, until = self._failures.get(caller.number, (0, 0.0))
        if count >= self._max_failures and time.monotonic() < until:
            return True
        if count >= self._max_failures:
            del self._failures[caller.number]
        return False

    def check_birth_date(self, caller: Caller, utterance: str) -> Check:
        """Confirm the caller if ``utterance`` says a candidate's date of birth."""
        if not caller.awaiting_birth_date or caller.number is None:
            return "nobody"
        if self.locked(caller):
            return "locked"
        said = parse_spoken_date(utterance, self._order, self._clock().date())
        if said is None:
            return "not_a_date"
        match = next((p for p in caller.candidates if p.date_of_birth == said), None)
        if match is not None:
            caller.patient = match
            self._failures.pop(caller.number, None)
            self._people.audit(
                "platform", "identify", "patient", match.id, detail="caller number and birth date"
            )
            return "confirmed"
        count, _ = self._failures.get(caller.number, (0, 0.0))
        count += 1
        self._failures[caller.number] = (count, time.monotonic() + self._lock_s)
        return "locked" if count >= self._max_failures else "wrong"

    def today(self) -> date:
        return self._clock().date()
