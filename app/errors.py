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


class RateLimitedError(AppError):
    """Too many requests from one address or key; try again after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLargeError(AppError):
    """A request body over the limit."""


class UnknownDocumentError(AppError):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"no document or draft has id '{doc_id}'")
        self.doc_id = doc_id


class DocumentRejectedError(AppError):
    """A document, draft or upload that cannot be saved or approved; says why."""


class DocumentConflictError(AppError):
    """A save based on an older text than the one stored; both texts come back."""

    def __init__(self, message: str, yours: str, theirs: str, current_revision: str) -> None:
        super().__init__(message)
        self.body_extra = {"yours": yours, "theirs": theirs, "current_revision": current_revision}


class UploadTooLargeError(AppError):
    """An upload over the configured size limit."""


class CorpusNotWritableError(AppError):
    """The corpus folder cannot be written; nothing was changed."""


class UnknownTurnError(AppError):
    def __init__(self, turn_id: str) -> None:
        super().__init__(f"no stored turn has id '{turn_id}'")


class InvalidPhoneNumberError(AppError):
    """A phone number that cannot be written in E.164 for the clinic's country."""


class EscalationWithheldError(AppError):
    """A turn stopped before escalating: a newer request in the same call replaced it."""


class PatientExistsError(AppError):
    """A patient id that is already registered."""
