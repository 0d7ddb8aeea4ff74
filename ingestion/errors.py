"""Errors of the ingestion package, worded for the clinician who maintains the corpus."""

from pathlib import Path


class IngestionError(Exception):
    """Root: something went wrong reading, indexing or searching the corpus."""


class DocumentError(IngestionError):
    """One document cannot be indexed; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class IndexUnavailableError(IngestionError):
    """The corpus index cannot be opened or searched."""
