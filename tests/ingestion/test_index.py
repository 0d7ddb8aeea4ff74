"""Incremental ingestion into embedded Chroma with the real model."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from escalation.clinic import ClinicConfig
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer, IngestReport
from ingestion.search import CorpusSearch
from ingestion.settings import IngestionSettings
from ingestion.store import open_collections

VALUES = ClinicConfig().placeholders()


def indexer(embedder: Embedder, data: Path) -> tuple[CorpusIndexer, CorpusSearch]:
    collections = open_collections(IngestionSettings(), data / "chroma")
    search = CorpusSearch(collections, embedder, top_k=5)
    return CorpusIndexer(collections, embedder, 200), search


def statuses(report: IngestReport) -> dict[str, str]:
    return {(d.doc_id or d.path): d.status for d in report.documents}


def held(data: Path) -> dict[str, set[str]]:
    collections = open_collections(IngestionSettings(), data / "chroma")
    out: dict[str, set[str]] = {}
    for meta in collections.chunks.get(include=["metadatas"])["metadatas"]:
        out.setdefault(meta["doc_id"], set()).add(meta["content_hash"])
    return out


def test_cold_then_unchanged_costs_no_embedding(
    embedder: Embedder, small_corpus: Path, data_dir: Path
) -> None:
    ix, _ = indexer(embedder, data_dir)
    first = ix.ingest(small_corpus, VALUES)
    assert statuses(first) == {"catheter": "added", "driving": "added", "psa": "added"}
    assert first.texts_embedded > 0
    assert all(d.chunks > 0 for d in first.documents)
    again = ix.ingest(small_corpus, VALUES)
    assert set(statuses(again).values()) == {"unchanged"}
    assert again.texts_embedded == 0


def test_draft_is_never_indexed(embedder: Embedder, small_corpus: Path, data_dir: Path) -> None:
    ix, search = indexer(embedder, data_dir)
    ix.ingest(small_corpus, VALUES)
    search.refresh()
    assert "draft-note" not in held(data_dir)
    result = search.search("unicorn gardening")
    assert all("unicorn" not in p.text for p in result.passages)


def test_changed_document_is_replaced(
    embedder: Embedder, small_corpus: Path, data_dir: Path
) -> None:
    ix, search = indexer(embedder, data_dir)
    ix.ingest(small_corpus, VALUES)
    before = held(data_dir)["driving"]
    path = small_corpus / "driving.md"
    path.write_text(path.read_text().replace("car insurance company", "motor insurer"))
    report = ix.ingest(small_corpus, VALUES)
    assert statuses(report)["driving"] == "updated"
    assert statuses(report)["catheter"] == "unchanged"
    after = held(data_dir)["driving"]
    assert len(after) == 1 and after != before
    search.refresh()
    texts = " ".join(p.text for p in search.search("insurance before driving").passages)
    assert "motor insurer" in texts and "car insurance company" not in texts


def test_removed_and_retired_documents_disappear(
    embedder: Embedder, small_corpus: Path, data_dir: Path
) -> None:
    ix, _ = indexer(embedder, data_dir)
    ix.ingest(small_corpus, VALUES)
    (small_corpus / "psa.txt").unlink()
    path = small_corpus / "driving.md"
    path.write_text(path.read_text().replace("status: approved", "status: retired"))
    report = ix.ingest(small_corpus, VALUES)
    assert statuses(report)["psa"] == "removed" and statuses(report)["driving"] == "removed"
    assert set(held(data_dir)) == {"catheter"}


def test_broken_update_keeps_last_good_version(
    embedder: Embedder, small_corpus: Path, data_dir: Path
) -> None:
    ix, search = indexer(embedder, data_dir)
    ix.ingest(small_corpus, VALUES)
    good = held(data_dir)["catheter"]
    path = small_corpus / "catheter.md"
    path.write_text(path.read_text().replace("status: approved", "status: finished"))
    report = ix.ingest(small_corpus, VALUES)
    failed = [d for d in report.documents if d.status == "failed"]
    assert (
        len(failed) == 1 and failed[0].doc_id == "catheter" and "status" in (failed[0].error or "")
    )
    assert failed[0].path == "catheter.md"
    assert held(data_dir)["catheter"] == good
    search.refresh()
    assert search.search("how long does the catheter stay in").passages[0].doc_id == "catheter"


def test_duplicate_ids_fail_both_and_keep_the_indexed_one(
    embedder: Embedder, small_corpus: Path, data_dir: Path
) -> None:
    ix, _ = indexer(embedder, data_dir)
    ix.ingest(small_corpus, VALUES)
    (small_corpus / "copy.md").write_text((small_corpus / "driving.md").read_text())
    report = ix.ingest(small_corpus, VALUES)
    failed = {d.path: d.error for d in report.documents if d.status == "failed"}
    assert set(failed) == {"copy.md", "driving.md"}
    assert all("duplicate id 'driving'" in (e or "") for e in failed.values())
    assert "driving" in held(data_dir)


def test_failure_while_embedding_keeps_last_good_version(
    embedder: Embedder, small_corpus: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ix, _ = indexer(embedder, data_dir)
    ix.ingest(small_corpus, VALUES)
    good = held(data_dir)["psa"]
    path = small_corpus / "psa.txt"
    path.write_text(path.read_text().replace("cannot detect it", "cannot find it at all"))

    def broken(texts: list[str]) -> object:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(embedder, "embed", broken)
    report = ix.ingest(small_corpus, VALUES)
    assert statuses(report)["psa"] == "failed"
    assert held(data_dir)["psa"] == good


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from escalation.clinic import ClinicConfig
    from ingestion.embedding import Embedder
    from ingestion.index import CorpusIndexer
    from ingestion.settings import IngestionSettings
    from ingestion.store import open_collections

    corpus, data, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    collections = open_collections(IngestionSettings(), data / "chroma")
    ix = CorpusIndexer(collections, Embedder(), 200)

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    # before-delete: the new version is in, the old one not yet deleted.
    # after-sentences: the new sentences are in, no new chunk yet.
    target = collections.chunks if stage == "before-delete" else ix._vector_store
    object.__setattr__(target, "delete" if stage == "before-delete" else "add", die)
    ix.ingest(corpus, ClinicConfig().placeholders())
    """
)


@pytest.mark.parametrize("stage", ["before-delete", "after-sentences"])
def test_kill_mid_ingest_then_rerun_is_consistent(
    embedder: Embedder, small_corpus: Path, data_dir: Path, tmp_path: Path, stage: str
) -> None:
    ix, search = indexer(embedder, data_dir)
    ix.ingest(small_corpus, VALUES)
    path = small_corpus / "catheter.md"
    path.write_text(path.read_text().replace("A shower is fine.", "A quick shower is fine."))
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, str(script), str(small_corpus), str(data_dir), stage],
        env=env,
        capture_output=True,
        timeout=240,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]

    del ix, search
    ix2, search2 = indexer(embedder, data_dir)
    report = ix2.ingest(small_corpus, VALUES)
    assert statuses(report)["catheter"] in {"updated", "unchanged"}
    hashes = held(data_dir)
    assert all(len(h) == 1 for h in hashes.values())
    again = ix2.ingest(small_corpus, VALUES)
    assert set(statuses(again).values()) == {"unchanged"} and again.texts_embedded == 0
    search2.refresh()
    texts = " ".join(p.text for p in search2.search("can I have a shower or bath").passages)
    assert "A quick shower is fine." in texts


def test_chunks_fit_the_model_window(embedder: Embedder, tmp_path: Path, data_dir: Path) -> None:
    corpus = tmp_path / "long"
    corpus.mkdir()
    sentence = "Pelvic floor exercises strengthen the muscles that help you hold urine in. "
    body = "# Long\n\n## One very long section\n\n" + sentence * 120 + "\n"
    (corpus / "long.md").write_text(
        (Path(__file__).parents[1] / "fixtures/corpus/driving.md")
        .read_text()
        .split("# Driving")[0]
        .replace("id: driving", "id: long")
        + body
    )
    ix, _ = indexer(embedder, data_dir)
    report = ix.ingest(corpus, VALUES)
    assert report.documents[0].chunks > 5
    collections = open_collections(IngestionSettings(), data_dir / "chroma")
    got = collections.chunks.get(include=["documents", "metadatas"])
    for text, meta in zip(got["documents"], got["metadatas"], strict=True):
        embedded = f"{meta['title']} > {meta['section']}.\n{text}"
        assert embedder.count_tokens(embedded) <= 200
