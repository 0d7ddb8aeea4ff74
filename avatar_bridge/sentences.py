"""Sentences out of streamed text, each released as soon as it is complete.

A voice can start speaking the first sentence while the rest of the answer is still being
written, so the splitter decides every boundary from at most the whitespace and one
character after the punctuation. The decision depends only on the text, never on how it
was cut into pieces: feeding a text in any chunks gives the same sentences as
:func:`split_sentences`.

Boundaries: ``.``, ``!`` or ``?`` (with closing quotes, brackets or emphasis marks after
them) followed by whitespace; a line break after such punctuation or a colon; a paragraph
break; a new line that starts with anything but a lower-case letter (a heading, a bullet, a
numbered item); an inline ``•`` bullet. Not boundaries: abbreviations ("e.g.", "Dr.",
"approx.") and initials ("J. Smith"), by the boundary rule shared with ingestion
(``ingestion.text.leaves_sentence_open``), decimals ("38.5"), ellipses, list markers
("1."), and a full stop followed by a lower-case word.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

from ingestion.text import leaves_sentence_open

__all__ = ["SentenceStream", "split_sentences", "stream_sentences"]

_CANDIDATE = re.compile(r"[.!?\n•]")
_TERMINALS = frozenset(".!?…")
_CLOSERS = frozenset(")]}\"'”’»*_`")
_WORD = re.compile(r"\w")
_LIST_MARKER = re.compile(r"(?:[-*+•]\s*)?(?:\d{1,3}|[A-Za-z])")


class _Decision:
    """Where a candidate leaves the scan: a boundary ending the sentence at ``end``."""

    __slots__ = ("boundary", "end", "resume")

    def __init__(self, boundary: bool, end: int, resume: int) -> None:
        self.boundary = boundary
        self.end = end
        self.resume = resume


def _tidy(raw: str) -> str | None:
    text = " ".join(raw.split()).lstrip(".,;:!? ")
    return text if _WORD.search(text) else None


def _token_before(buf: str, i: int, start: int) -> str:
    j = i
    while j > start and (buf[j - 1].isalnum() or buf[j - 1] == "."):
        j -= 1
    return buf[j:i]


class SentenceStream:
    """Feed text as it arrives; get back the sentences that are complete.

    Not thread-safe; one stream per answer. After :meth:`flush` the stream is empty and can
    be used again.
    """

    def __init__(self) -> None:
        self._buf = ""
        self._scan = 0

    def feed(self, delta: str) -> list[str]:
        """Add ``delta`` and return every sentence it completed, in order."""
        if not delta:
            return []
        self._buf += delta
        return self._drain()

    def flush(self) -> list[str]:
        """End of the stream: return the sentences still held, and reset."""
        out = self._drain()
        last = _tidy(self._buf)
        if last is not None:
            out.append(last)
        self._buf = ""
        self._scan = 0
        return out

    def _drain(self) -> list[str]:
        buf = self._buf
        out: list[str] = []
        start = 0
        pos = self._scan
        while True:
            m = _CANDIDATE.search(buf, pos)
            if m is None:
                pos = len(buf)
                break
            i = m.start()
            if not buf[start:i].strip():
                # Nothing spoken yet in this sentence: punctuation or a break on its own.
                pos = i + 1
                continue
            ch = buf[i]
            decision: _Decision | None
            if ch == "•":
                decision = self._at_bullet(buf, i)
            elif ch == "\n":
                decision = self._after_newline(buf, i, start)
            else:
                decision = self._after_terminal(buf, i, start)
            if decision is None:
                pos = i
                break
            if decision.boundary:
                sentence = _tidy(buf[start : decision.end])
                if sentence is not None:
                    out.append(sentence)
                start = decision.resume
            pos = decision.resume
        self._buf = buf[start:]
        self._scan = pos - start
        return out

    @staticmethod
    def _at_bullet(buf: str, i: int) -> _Decision | None:
        if not buf[i - 1].isspace():
            return _Decision(False, i, i + 1)
        if i + 1 == len(buf):
            return None
        if buf[i + 1].isspace():
            return _Decision(True, i, i)
        return _Decision(False, i, i + 1)

    @staticmethod
    def _after_newline(buf: str, i: int, start: int) -> _Decision | None:
        before = buf[start:i].rstrip()
        if before.endswith(":"):
            return _Decision(True, i, i + 1)
        n = len(buf)
        k = i + 1
        while k < n and buf[k].isspace():
            if buf[k] == "\n":
                return _Decision(True, i, k + 1)
            k += 1
        if k == n:
            return None
        if buf[k].islower():
            return _Decision(False, i, k)  # a soft line wrap inside a sentence
        return _Decision(True, i, k)

    @staticmethod
    def _after_terminal(buf: str, i: int, start: int) -> _Decision | None:
        n = len(buf)
        j = i + 1
        while j < n and buf[j] in _TERMINALS:
            j += 1
        run = buf[i:j]
        while j < n and buf[j] in _CLOSERS:
            j += 1
        if j == n:
            return None
        if not buf[j].isspace():
            return _Decision(False, j, j)  # "38.5", "e.g.,", "file.txt"
        k = j
        while k < n and buf[k].isspace():
            if buf[k] == "\n":
                return _Decision(True, j, k + 1)
            k += 1
        if "!" in run or "?" in run:
            return _Decision(True, j, k)
        if k == n:
            return None
        if ".." in run or "…" in run:
            return _Decision(False, k, k)
        if leaves_sentence_open(_token_before(buf, i, start)):
            return _Decision(False, k, k)  # "e.g.", "Dr.", an initial
        if _LIST_MARKER.fullmatch(buf[start:i].strip()):
            return _Decision(False, k, k)
        if buf[k].islower():
            return _Decision(False, k, k)
        return _Decision(True, j, k)


def split_sentences(text: str) -> list[str]:
    """The sentences of a whole text, exactly as :class:`SentenceStream` releases them."""
    stream = SentenceStream()
    return stream.feed(text) + stream.flush()


async def stream_sentences(deltas: AsyncIterable[str]) -> AsyncIterator[str]:
    """Re-chunk a stream of text pieces into a stream of sentences."""
    stream = SentenceStream()
    async for delta in deltas:
        for sentence in stream.feed(delta):
            yield sentence
    for sentence in stream.flush():
        yield sentence
