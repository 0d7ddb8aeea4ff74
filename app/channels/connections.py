"""How many voice sockets each client address and each patient holds open."""

from __future__ import annotations

from collections import Counter


class SocketCaps:
    """Counts open sockets; ``admit`` refuses past the caps (one event loop: no locking)."""

    def __init__(self, per_address: int, per_patient: int) -> None:
        self.per_address = per_address
        self.per_patient = per_patient
        self._addresses: Counter[str] = Counter()
        self._patients: Counter[str] = Counter()

    def admit_address(self, address: str | None) -> bool:
        key = address or "unknown"
        if self._addresses[key] >= self.per_address:
            return False
        self._addresses[key] += 1
        return True

    def release_address(self, address: str | None) -> None:
        key = address or "unknown"
        self._addresses[key] -= 1
        if self._addresses[key] <= 0:
            del self._addresses[key]

    def admit_patient(self, patient_id: str) -> bool:
        if self._patients[patient_id] >= self.per_patient:
            return False
        self._patients[patient_id] += 1
        return True

    def release_patient(self, patient_id: str) -> None:
        self._patients[patient_id] -= 1
        if self._patients[patient_id] <= 0:
            del self._patients[patient_id]

    def open_for(self, address: str | None) -> int:
        return self._addresses.get(address or "unknown", 0)
