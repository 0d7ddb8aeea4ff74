"""Heading-aware chunking sized to the embedding model's window.

Each section (a heading and the text under it) is split into chunks of whole sentences
whose embedding text (title, heading path and body) fits ``max_tokens`` word-pieces as
the model's own tokenizer counts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ingestion.text import clean_inline_markdown, split_sentences

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")

TokenCounter = Callable[[str], int]


class ChunkSource(Protocol):
    """What chunking needs of a document."""

    @property
    def doc_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def body(self) -> str: ...


@dataclass(frozen=True)
class Section:
    path: tuple[str, ...]
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    section: str
    version: str
    content_hash: str
    index: int
    text: str
    sentences: tuple[str, ...]

    @property
    def embed_text(self) -> str:
        return embedding_text(self.title, self.section, self.text)


def embedding_text(title: str, section: str, text: str) -> str:
    heading = f"{title} > {section}" if section else title
    return f"{heading}.\n{text}"


def sections(document: ChunkSource) -> list[Section]:
    """The document's sections in order; the top heading equal to the title is dropped."""
    out: list[Section] = []
    stack: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    current: list[str] = []

    def close_paragraph() -> None:
        if current:
            paragraphs.append(clean_inline_markdown(" ".join(current)).strip())
            current.clear()

    def close_section() -> None:
        close_paragraph()
        kept = tuple(p for p in paragraphs if p)
        if kept:
            out.append(Section(tuple(text for _, text in stack), kept))
        paragraphs.clear()

    title = document.title.strip().lower()
    for line in document.body.splitlines():
        match = _HEADING.match(line)
        if match:
            close_section()
            level, text = len(match.group(1)), clean_inline_markdown(match.group(2)).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            if not (level == 1 and text.lower() == title):
                stack.append((level, text))
            continue
        stripped = line.strip()
        if not stripped:
            close_paragraph()
        elif re.match(r"^(?:[-*+]|\d+[.)])\s+", stripped):
            close_paragraph()
            current.append(_as_sentence(stripped))
            close_paragraph()
        else:
            current.append(stripped)
    close_section()
    return out


def chunk_document(
    document: ChunkSource, count_tokens: TokenCounter, max_tokens: int
) -> list[Chunk]:
    """Chunks of whole sentences, each embedding text within ``max_tokens`` word-pieces."""
    chunks: list[Chunk] = []
    for section in sections(document):
        heading = " > ".join(section.path)
        budget = max_tokens - count_tokens(embedding_text(document.title, heading, ""))
        for sentences in _pack(section, count_tokens, max(budget, 16)):
            index = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=f"{document.doc_id}:{document.content_hash[:12]}:{index}",
                    doc_id=document.doc_id,
                    title=document.title,
                    section=heading,
                    version=document.version,
                    content_hash=document.content_hash,
                    index=index,
                    text=" ".join(sentences),
                    sentences=tuple(sentences),
                )
            )
    return chunks


def _pack(section: Section, count_tokens: TokenCounter, budget: int) -> list[list[str]]:
    """Greedy packing of sentences; paragraphs are kept together when they fit."""
    groups: list[list[str]] = []
    current: list[str] = []
    used = 0
    for paragraph in section.paragraphs:
        for sentence in split_sentences(paragraph):
            for piece in _fit(sentence, count_tokens, budget):
                cost = count_tokens(piece) - 2  # [CLS] and [SEP] are counted once per chunk
                if current and used + cost > budget:
                    groups.append(current)
                    current, used = [], 0
                current.append(piece)
                used += cost
    if current:
        groups.append(current)
    return groups


def _fit(sentence: str, count_tokens: TokenCounter, budget: int) -> list[str]:
    """A sentence longer than the budget is cut at word boundaries (rare: run-on lists)."""
    if count_tokens(sentence) - 2 <= budget:
        return [sentence]
    pieces: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        if current and count_tokens(" ".join([*current, word])) - 2 > budget:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def _as_sentence(item: str) -> str:
    text = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", item).strip()
    return text if text.endswith((".", "!", "?", ":")) else text + "."
