"""The write side of the corpus index: bring Chroma in line with the corpus folder.

Per document, the index holds the chunks of exactly one content hash. A changed
document is written under its new hash first and its old chunks are deleted only once
the new ones are all in, so a failure or a crash never loses the last good version.
A re-run finishes what a killed run left half done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import (
    BaseNode,
    Document,
    MetadataMode,
    NodeRelationship,
    TextNode,
    TransformComponent,
)
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import PrivateAttr

from ingestion.chunking import Chunk, chunk_document
from ingestion.documents import CorpusDocument, discover, duplicate_ids, load_document
from ingestion.embedding import Embedder, LlamaIndexEmbedding
from ingestion.errors import DocumentError
from ingestion.store import ChromaCollections

DocStatus = Literal["added", "updated", "unchanged", "removed", "failed"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DocumentReport:
    path: str
    doc_id: str | None
    status: DocStatus
    chunks: int
    error: str | None = None


@dataclass
class IngestReport:
    documents: list[DocumentReport] = field(default_factory=list)
    texts_embedded: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("added", "updated", "unchanged", "removed", "failed"), 0)
        for doc in self.documents:
            counts[doc.status] += 1
        return counts

    @property
    def changed(self) -> bool:
        return any(d.status in ("added", "updated", "removed") for d in self.documents)

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": [
                {
                    "path": d.path,
                    "doc_id": d.doc_id,
                    "status": d.status,
                    "chunks": d.chunks,
                    "error": d.error,
                }
                for d in self.documents
            ],
            "counts": self.counts,
        }


@dataclass
class _Indexed:
    """What the index holds for one document id."""

    path: str
    hashes: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)

    def complete(self, content_hash: str) -> bool:
        return self.hashes.get(content_hash, 0) == self.expected.get(content_hash, -1)


class HeadingChunker(TransformComponent):
    """llama-index transform: documents in, one TextNode per heading-aware chunk out."""

    _count_tokens: Callable[[str], int] = PrivateAttr()
    _max_tokens: int = PrivateAttr()

    def __init__(self, count_tokens: Callable[[str], int], max_tokens: int) -> None:
        super().__init__()
        self._count_tokens = count_tokens
        self._max_tokens = max_tokens

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in nodes:
            source = _NodeSource(node)
            chunks = chunk_document(source, self._count_tokens, self._max_tokens)
            for chunk in chunks:
                text_node = _text_node(chunk, str(node.metadata["path"]), len(chunks))
                # Chroma's writer stores the source document's id as the 'doc_id' metadata.
                text_node.relationships[NodeRelationship.SOURCE] = node.as_related_node_info()
                out.append(text_node)
        return out


@dataclass(frozen=True)
class _NodeSource:
    node: BaseNode

    @property
    def doc_id(self) -> str:
        return str(self.node.metadata["doc_id"])

    @property
    def title(self) -> str:
        return str(self.node.metadata["title"])

    @property
    def version(self) -> str:
        return str(self.node.metadata["version"])

    @property
    def content_hash(self) -> str:
        return str(self.node.metadata["content_hash"])

    @property
    def body(self) -> str:
        return self.node.get_content(metadata_mode=MetadataMode.NONE)


def _text_node(chunk: Chunk, path: str, count: int) -> TextNode:
    metadata: dict[str, Any] = {
        "title": chunk.title,
        "section": chunk.section,
        "doc_id": chunk.doc_id,
        "version": chunk.version,
        "content_hash": chunk.content_hash,
        "chunk_index": chunk.index,
        "chunk_count": count,
        "path": path,
        "sentences": "\n".join(chunk.sentences),
    }
    embedded = {"title", "section"} if chunk.section else {"title"}
    return TextNode(
        id_=chunk.chunk_id,
        text=chunk.text,
        metadata=metadata,
        excluded_embed_metadata_keys=[k for k in metadata if k not in embedded],
        excluded_llm_metadata_keys=[k for k in metadata if k not in embedded],
        metadata_template="{value}",
        metadata_seperator=" > ",
        text_template="{metadata_str}.\n{content}",
    )


class CorpusIndexer:
    """Runs ingestion: discover, load, chunk, embed (llama-index pipeline), write to Chroma."""

    def __init__(self, collections: ChromaCollections, embedder: Embedder, max_tokens: int) -> None:
        self._collections = collections
        self._embedder = embedder
        self._vector_store = ChromaVectorStore(chroma_collection=collections.chunks)
        self._pipeline = IngestionPipeline(
            transformations=[
                HeadingChunker(embedder.count_tokens, min(max_tokens, embedder.max_tokens)),
                LlamaIndexEmbedding(embedder),
            ],
            disable_cache=True,
        )

    def ingest(
        self,
        corpus_dir: Path,
        placeholders: Mapping[str, str],
        progress: Progress | None = None,
        live: Callable[[CorpusDocument], bool] | None = None,
    ) -> IngestReport:
        """``live``, when given, decides which approved documents answer patients (for
        example, not those past their review date); the others leave the index."""
        report = IngestReport()
        before = self._embedder.texts_embedded
        loaded, failed = self._load_all(corpus_dir, placeholders)
        indexed = self._indexed()
        failed_paths = {path for path, _ in failed}
        for path, error in failed:
            report.documents.append(
                DocumentReport(path, _doc_id_at(indexed, path), "failed", 0, error)
            )
        wanted = {
            doc.doc_id: doc for doc in loaded if doc.indexable and (live is None or live(doc))
        }
        for doc in loaded:
            if doc.doc_id not in wanted:
                continue
            if progress:
                progress(doc.doc_id)
            report.documents.append(self._sync_document(doc, indexed.get(doc.doc_id), corpus_dir))
        for doc_id, held in indexed.items():
            if doc_id in wanted or held.path in failed_paths:
                continue
            self._delete(doc_id, keep=None)
            report.documents.append(DocumentReport(held.path, doc_id, "removed", 0))
        report.texts_embedded = self._embedder.texts_embedded - before
        return report

    def _load_all(
        self, corpus_dir: Path, placeholders: Mapping[str, str]
    ) -> tuple[list[CorpusDocument], list[tuple[str, str]]]:
        loaded: list[CorpusDocument] = []
        failed: list[tuple[str, str]] = []
        for source in discover(corpus_dir):
            try:
                loaded.append(load_document(source, placeholders, root=corpus_dir))
            except DocumentError as exc:
                failed.append((_relative(source.path, corpus_dir), exc.problem))
        clashes = duplicate_ids(loaded)
        if clashes:
            for doc_id, paths in clashes.items():
                names = ", ".join(_relative(p, corpus_dir) for p in paths)
                failed.extend(
                    (_relative(p, corpus_dir), f"duplicate id '{doc_id}' (used by {names})")
                    for p in paths
                )
            loaded = [d for d in loaded if d.doc_id not in clashes]
        return loaded, failed

    def _sync_document(
        self, doc: CorpusDocument, held: _Indexed | None, corpus_dir: Path
    ) -> DocumentReport:
        path = _relative(doc.path, corpus_dir)
        stale = [h for h in (held.hashes if held else {}) if h != doc.content_hash]
        if held and held.complete(doc.content_hash):
            if stale:
                self._delete(doc.doc_id, keep=doc.content_hash)
            return DocumentReport(path, doc.doc_id, "unchanged", held.hashes[doc.content_hash])
        try:
            count = self._write(doc, path)
        except Exception as exc:
            # The old hash's chunks are untouched: the last good version stays searchable.
            return DocumentReport(path, doc.doc_id, "failed", 0, f"indexing failed: {exc}")
        self._delete(doc.doc_id, keep=doc.content_hash)
        return DocumentReport(path, doc.doc_id, "updated" if held else "added", count)

    def _write(self, doc: CorpusDocument, path: str) -> int:
        source = Document(
            id_=doc.doc_id,
            text=doc.body,
            metadata={
                "doc_id": doc.doc_id,
                "title": doc.title,
                "version": doc.version,
                "content_hash": doc.content_hash,
                "path": path,
            },
        )
        nodes = self._pipeline.run(documents=[source], show_progress=False)
        if not nodes:
            raise DocumentError(path, "has no text to index")
        self._write_sentences(nodes)
        # Chunks go in last: a complete set of chunks implies complete sentences.
        self._vector_store.add(list(nodes))
        return len(nodes)

    def _write_sentences(self, nodes: Sequence[BaseNode]) -> None:
        ids: list[str] = []
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for node in nodes:
            meta = node.metadata
            for j, sentence in enumerate(str(meta["sentences"]).split("\n")):
                ids.append(f"{node.node_id}:s{j}")
                texts.append(sentence)
                metadatas.append(
                    {
                        "chunk_id": node.node_id,
                        "doc_id": meta["doc_id"],
                        "content_hash": meta["content_hash"],
                        "position": j,
                    }
                )
        vectors = self._embedder.embed(texts)
        self._collections.sentences.upsert(
            ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas
        )

    def _delete(self, doc_id: str, keep: str | None) -> None:
        where: dict[str, Any] = {"doc_id": doc_id}
        if keep is not None:
            where = {"$and": [{"doc_id": doc_id}, {"content_hash": {"$ne": keep}}]}
        # Chunks first: a chunk never outlives the sentences it points to.
        self._collections.chunks.delete(where=where)
        self._collections.sentences.delete(where=where)

    def _indexed(self) -> dict[str, _Indexed]:
        got = self._collections.chunks.get(include=["metadatas"])
        held: dict[str, _Indexed] = {}
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for meta in got["metadatas"] or []:
            doc_id, content_hash = str(meta["doc_id"]), str(meta["content_hash"])
            entry = held.setdefault(doc_id, _Indexed(path=str(meta.get("path", ""))))
            entry.expected[content_hash] = int(meta["chunk_count"])
            counts[(doc_id, content_hash)] += 1
        for (doc_id, content_hash), n in counts.items():
            held[doc_id].hashes[content_hash] = n
        return held


def _doc_id_at(indexed: Mapping[str, _Indexed], path: str) -> str | None:
    return next((doc_id for doc_id, held in indexed.items() if held.path == path), None)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
