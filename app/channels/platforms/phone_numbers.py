"""Phone numbers in E.164, read in the clinic's country (``ClinicConfig.country``).

Platforms validate E.164 (Vapi, ElevenLabs), so every number we send or match on is
normalised here; callers' numbers arrive from platforms in whatever form they use.
"""

from __future__ import annotations

import phonenumbers

from app.errors import InvalidPhoneNumberError


def to_e164(number: str, country: str) -> str:
    """``number`` as E.164 (``+441223000000``); national forms are read in ``country``."""
    text = number.strip()
    if not text:
        raise InvalidPhoneNumberError("the phone number is empty")
    try:
        parsed = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumberError(f"'{number}' is not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumberError(f"'{number}' is not a valid phone number in {country}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_or_none(number: object, country: str) -> str | None:
    """A caller's number as E.164, or None when it is missing or not a number."""
    if not isinstance(number, str):
        return None
    try:
        return to_e164(number, country)
    except InvalidPhoneNumberError:
        return None
