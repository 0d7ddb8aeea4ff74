"""Errors of the escalation package, worded for clinicians and coordinators."""


class EscalationError(Exception):
    """Root: something went wrong while triaging, escalating or booking."""


class ClinicConfigError(EscalationError):
    """The clinic configuration file is missing or invalid."""
