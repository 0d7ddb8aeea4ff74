"""Errors of the escalation package, worded for clinicians and coordinators."""


class EscalationError(Exception):
    """Root: something went wrong while triaging, escalating or booking."""


class ClinicConfigError(EscalationError):
    """The clinic configuration file is missing or invalid."""


class DeliveryError(EscalationError):
    """A coordinator alert could not be delivered through one channel (it is retried)."""


class PermanentDeliveryError(DeliveryError):
    """The receiver refused the message for good (e.g. an invalid number): not retried."""


class AlertConfigError(EscalationError):
    """The coordinator alert channels (webhook, email) are configured inconsistently."""


class UnknownEscalationError(EscalationError):
    """No escalation has the given id."""


class IllegalTransitionError(EscalationError):
    """The escalation's status cannot change that way (e.g. a resolved one cannot be booked)."""


class UnknownAppointmentError(EscalationError):
    """No appointment has the given id."""


class SchedulerUnavailableError(EscalationError):
    """The appointment system could not be reached or failed; nothing was booked."""


class TriageRulesError(EscalationError):
    """The red-flag rule files are missing or invalid (the message names the rule and field)."""


class EscalationDeferredError(EscalationError):
    """The database could not take the escalation; it waits in the local spool and is
    opened, booked and alerted as soon as the database answers (recovery replays it)."""
