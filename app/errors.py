"""Errors of the app layer, worded for patients' and staff's clients."""


class AppError(Exception):
    """Root: the request cannot be served as asked."""


class UnknownPatientError(AppError):
    def __init__(self, patient_id: str) -> None:
        super().__init__(f"no patient is registered with id '{patient_id}'")
        self.patient_id = patient_id


class NotAuthenticatedError(AppError):
    """No key, or a key that matches nobody."""


class ForbiddenError(AppError):
    """A valid key whose role may not do this."""


class InvalidQuestionError(AppError):
    """An empty question, or one over the length limit."""


class NotReadyError(AppError):
    """The model or the index is still loading."""


class InvalidPhoneNumberError(AppError):
    """A phone number that cannot be written in E.164 for the clinic's country."""


class EscalationWithheldError(AppError):
    """A turn stopped before escalating: a newer request in the same call replaced it."""


class PatientExistsError(AppError):
    """A patient id that is already registered."""
