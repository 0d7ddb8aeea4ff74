"""The generated composer against a local OpenAI-compatible streaming server, with the
official `openai` client, the real embedding model and passages from a real index."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from openai import AsyncOpenAI

from app.conversation.composers.base import (
    CannotAnswer,
    ComposedSentence,
    CompositionRequest,
    Message,
)
from app.conversation.composers.extractive import ExtractiveComposer, attribution
from app.conversation.composers.generated import DEFAULT_BASE_URL, GeneratedComposer, build_composer
from app.conversation.composers.grounding import SupportChecker, numbers_in
from app.conversation.composers.prompt import DONT_KNOW, build_messages, is_dont_know
from app.main import build_services
from app.settings import Settings
from escalation.clinic import ClinicConfig
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer
from ingestion.search import CorpusSearch, Passage
from ingestion.settings import IngestionSettings
from ingestion.store import open_collections
from tests.app.conftest import make_settings
from tests.app.llm_server import Script, ScriptedChatServer, running

FIXTURES = Path(__file__).parents[1] / "fixtures"
DRIVING = "Driving after your operation"
THRESHOLD = 0.55

GROUNDED = (
    "You should not drive until your surgeon says it is safe. "
    "Most men wait until the catheter is out and they no longer need strong painkillers. "
    "Check with your car insurance company before you drive again."
)
INVENTED_DOSE = "Take 100 mg of sildenafil every morning."
INVENTED_CLAIM = "Drinking cranberry juice every day will stop any leaking."


@pytest.fixture(scope="module")
def search(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> CorpusSearch:
    data = tmp_path_factory.mktemp("generated-index")
    collections = open_collections(IngestionSettings(), data / "chroma")
    CorpusIndexer(collections, embedder, 200).ingest(
        FIXTURES / "corpus", ClinicConfig().placeholders()
    )
    found = CorpusSearch(collections, embedder, top_k=5)
    found.refresh()
    return found


@pytest.fixture(scope="module")
def driving(search: CorpusSearch) -> tuple[Passage, ...]:
    passages = search.search("When can I drive again after the operation?").passages
    assert passages[0].doc_id == "driving"
    return passages


@pytest.fixture(scope="module")
def catheter(search: CorpusSearch) -> tuple[Passage, ...]:
    passages = search.search("How long does the catheter stay in?").passages
    assert passages[0].doc_id == "catheter"
    return passages


@pytest.fixture(scope="module")
def llm_module() -> Iterator[ScriptedChatServer]:
    yield from running(ScriptedChatServer())


@pytest.fixture
def llm(llm_module: ScriptedChatServer) -> ScriptedChatServer:
    llm_module.reset()
    llm_module.default = Script(GROUNDED)
    return llm_module


class Harness:
    def __init__(
        self,
        server: ScriptedChatServer,
        embedder: Embedder,
        first_sentence_timeout_s: float = 5.0,
        client_timeout_s: float = 10.0,
        min_supported: int = 1,
    ) -> None:
        self.fallbacks: list[str] = []
        self.client = AsyncOpenAI(
            base_url=server.base_url, api_key="test-key", timeout=client_timeout_s, max_retries=0
        )
        self.composer = GeneratedComposer(
            client=self.client,
            model="test-model",
            temperature=0.2,
            first_sentence_timeout_s=first_sentence_timeout_s,
            support=SupportChecker(embedder.embed, THRESHOLD),
            fallback=ExtractiveComposer(),
            on_fallback=self.fallbacks.append,
            min_supported=min_supported,
        )

    async def answer(self, request: CompositionRequest) -> list[ComposedSentence]:
        try:
            return [s async for s in self.composer.compose(request)]
        finally:
            await self.client.close()


async def extractive(request: CompositionRequest) -> list[ComposedSentence]:
    return [s async for s in ExtractiveComposer().compose(request)]


def ask(
    passages: tuple[Passage, ...], question: str = "When can I drive again?"
) -> CompositionRequest:
    return CompositionRequest(question, passages)


# The stream, sentence by sentence


async def test_grounded_answer_is_spoken_in_order_with_its_source(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    got = await Harness(llm, embedder).answer(ask(driving))
    assert [s.text for s in got] == [
        "You should not drive until your surgeon says it is safe.",
        "Most men wait until the catheter is out and they no longer need strong painkillers.",
        "Check with your car insurance company before you drive again.",
        attribution(DRIVING),
    ]
    assert [s.doc_id for s in got[:3]] == ["driving"] * 3
    assert llm.requests[0].body["stream"] is True


async def test_first_sentence_leaves_while_the_model_is_still_writing(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(GROUNDED, sentence_pause_s=0.6)
    harness = Harness(llm, embedder)
    arrivals: list[float] = []
    try:
        async for _ in harness.composer.compose(ask(driving)):
            arrivals.append(time.monotonic())
    finally:
        await harness.client.close()
    stream_end = llm.finished[-1]
    assert len(arrivals) == 4
    assert arrivals[0] < stream_end - 0.5
    assert arrivals[1] < stream_end


async def test_a_model_that_names_the_guide_gets_no_second_attribution(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(
        "Do not drive until your surgeon says you can. "
        "That comes from our guide, Driving after your operation."
    )
    got = await Harness(llm, embedder).answer(ask(driving))
    assert [s.text for s in got] == [
        "Do not drive until your surgeon says you can.",
        "That comes from our guide, Driving after your operation.",
    ]


async def test_invented_dose_and_claim_are_cut(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(
        f"Do not drive until your surgeon says you can. {INVENTED_DOSE} {INVENTED_CLAIM} "
        "Check with your car insurance company before you drive again."
    )
    got = await Harness(llm, embedder).answer(ask(driving))
    texts = [s.text for s in got]
    assert texts == [
        "Do not drive until your surgeon says you can.",
        "Check with your car insurance company before you drive again.",
        attribution(DRIVING),
    ]


async def test_a_wrong_number_from_the_right_guide_is_cut(
    llm: ScriptedChatServer, embedder: Embedder, catheter: tuple[Passage, ...]
) -> None:
    llm.default = Script(
        "The catheter usually stays in for 21 days after the operation. "
        "It keeps the new join between your bladder and urethra open while it heals. "
        "You can take a bath while the catheter is in."
    )
    got = await Harness(llm, embedder).answer(ask(catheter, "How long does the catheter stay in?"))
    texts = " ".join(s.text for s in got)
    assert "21" not in texts and "take a bath" not in texts
    assert (
        got[0].text == "It keeps the new join between your bladder and urethra open while it heals."
    )


# Escalation: the model does not know, or nothing it says is supported


@pytest.mark.parametrize(
    "text",
    [DONT_KNOW, f"{DONT_KNOW} You could ask your care team.", '"I don\'t know from these guides."'],
)
async def test_dont_know_escalates_with_nothing_spoken(
    text: str, llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(text)
    harness = Harness(llm, embedder)
    spoken: list[ComposedSentence] = []
    with pytest.raises(CannotAnswer):
        async for sentence in harness.composer.compose(ask(driving)):
            spoken.append(sentence)
    await harness.client.close()
    assert spoken == [] and harness.fallbacks == []


async def test_nothing_supported_escalates_with_nothing_spoken(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(f"{INVENTED_DOSE} {INVENTED_CLAIM}")
    harness = Harness(llm, embedder)
    spoken: list[ComposedSentence] = []
    with pytest.raises(CannotAnswer):
        async for sentence in harness.composer.compose(ask(driving)):
            spoken.append(sentence)
    await harness.client.close()
    assert spoken == []


async def test_min_supported_holds_the_first_sentence_until_a_second_is_supported(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(f"Do not drive until your surgeon says you can. {INVENTED_DOSE}")
    harness = Harness(llm, embedder, min_supported=2)
    spoken: list[ComposedSentence] = []
    with pytest.raises(CannotAnswer):
        async for sentence in harness.composer.compose(ask(driving)):
            spoken.append(sentence)
    await harness.client.close()
    assert spoken == []

    llm.default = Script(GROUNDED)
    got = await Harness(llm, embedder, min_supported=2).answer(ask(driving))
    assert len(got) == 4


async def test_dont_know_after_spoken_sentences_only_stops(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(f"Do not drive until your surgeon says you can. {DONT_KNOW}")
    got = await Harness(llm, embedder).answer(ask(driving))
    assert [s.text for s in got] == [
        "Do not drive until your surgeon says you can.",
        attribution(DRIVING),
    ]


# Never silent: the extractive answer when the model is slow, fails or times out


async def test_slow_model_gives_the_extractive_answer_in_time(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(GROUNDED, first_token_delay_s=3.0)
    harness = Harness(llm, embedder, first_sentence_timeout_s=0.5)
    started = time.monotonic()
    first_at: float | None = None
    got: list[ComposedSentence] = []
    try:
        async for sentence in harness.composer.compose(ask(driving)):
            first_at = first_at or time.monotonic()
            got.append(sentence)
    finally:
        await harness.client.close()
    assert first_at is not None and 0.5 <= first_at - started < 1.5
    assert got == await extractive(ask(driving))
    assert harness.fallbacks == ["slow"]


async def test_server_error_gives_the_extractive_answer_without_retrying(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(status=500)
    harness = Harness(llm, embedder)
    got = await harness.answer(ask(driving))
    assert got == await extractive(ask(driving))
    assert harness.fallbacks == ["error"]
    assert len(llm.requests) == 1


async def test_client_timeout_gives_the_extractive_answer(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(GROUNDED, first_token_delay_s=3.0)
    harness = Harness(llm, embedder, first_sentence_timeout_s=5.0, client_timeout_s=0.3)
    started = time.monotonic()
    got = await harness.answer(ask(driving))
    assert time.monotonic() - started < 2.0
    assert got == await extractive(ask(driving))
    assert harness.fallbacks == ["timeout"]


async def test_unreachable_endpoint_gives_the_extractive_answer(
    embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    closed = ScriptedChatServer()
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed.port = int(sock.getsockname()[1])
    harness = Harness(closed, embedder)
    got = await harness.answer(ask(driving))
    assert got == await extractive(ask(driving))
    assert harness.fallbacks == ["error"]


async def test_error_after_a_spoken_sentence_stops_quietly(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    llm.default = Script(GROUNDED, error_after_sentences=2)
    harness = Harness(llm, embedder)
    got = await harness.answer(ask(driving))
    assert [s.text for s in got] == [
        "You should not drive until your surgeon says it is safe.",
        attribution(DRIVING),
    ]
    assert harness.fallbacks == ["error_mid_answer"]


# The prompt


async def test_prompt_carries_numbered_passages_stage_history_and_question(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    request = CompositionRequest(
        "Can I drive to the shops yet?",
        driving,
        history=(
            Message("patient", "I had my operation two weeks ago."),
            Message("assistant", "Thank you for telling me."),
        ),
        patient_context="two weeks after surgery, catheter removed",
    )
    await Harness(llm, embedder).answer(request)
    sent = llm.requests[-1]
    assert sent.body["model"] == "test-model"
    assert sent.body["temperature"] == 0.2
    assert sent.headers["authorization"] == "Bearer test-key"
    user = sent.user_message
    first = driving[0]
    assert f"[1] {first.title} > {first.section}: {' '.join(first.text.split())}" in user
    assert f"[{len(driving)}] " in user
    assert "Patient: I had my operation two weeks ago." in user
    assert "Assistant: Thank you for telling me." in user
    assert "two weeks after surgery, catheter removed" in user
    assert user.rstrip().endswith("Can I drive to the shops yet?")
    assert DONT_KNOW in sent.system_message
    assert "markdown" in sent.system_message.lower()


def test_prompt_keeps_only_the_last_turns(driving: tuple[Passage, ...]) -> None:
    history = tuple(Message("patient", f"message number {i}") for i in range(20))
    user = build_messages(CompositionRequest("q?", driving, history=history))[1].get("content")
    assert isinstance(user, str)
    assert "message number 19" in user and "message number 13" not in user
    assert "message number 14" in user


def test_dont_know_form_is_recognised() -> None:
    assert is_dont_know(DONT_KNOW)
    assert is_dont_know("I DON’T KNOW from these guides!")
    assert is_dont_know("I don't know.")
    assert not is_dont_know("I don't know why, but the guide says to wait.")
    assert not is_dont_know("Do not drive until your surgeon says you can.")


# The grounding check


def test_numbers_are_read_as_digits_and_words() -> None:
    assert numbers_in("Take 20 mg, or twenty milligrams, at 38.5 degrees") == {"20", "38.5"}
    assert numbers_in("No numbers here at all") == set()


def test_support_checker_verdicts(embedder: Embedder, catheter: tuple[Passage, ...]) -> None:
    grounds = SupportChecker(embedder.embed, THRESHOLD).grounds(catheter)
    kept = grounds.check("Use the small leg bag in the day and the bigger night bag at night.")
    assert kept.supported and kept.verdict == "supported" and kept.doc_id == "catheter"
    assert grounds.check("The catheter stays in for 21 days.").verdict == "unknown_number"
    assert grounds.check("You can take a bath while the catheter is in.").verdict == "reversed"
    assert grounds.check(INVENTED_CLAIM).verdict == "weak"
    named = grounds.check("That comes from our guide, Your catheter at home.")
    assert named.supported and named.doc_id == "catheter"
    invented_title = grounds.check("That comes from our guide, Bladder secrets.")
    assert not invented_title.supported and invented_title.verdict == "unknown_source"


def test_a_number_must_come_from_the_guide_it_is_attributed_to(
    embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    # The retrieved PSA passage holds numbers; they do not make a driving claim supported.
    psa_numbers = set().union(*(numbers_in(p.text) for p in driving if p.doc_id == "psa"))
    assert psa_numbers
    grounds = SupportChecker(embedder.embed, THRESHOLD).grounds(driving)
    number = sorted(psa_numbers)[0]
    claim = grounds.check(f"You can drive again after {number} weeks.")
    assert claim.doc_id == "driving" and claim.verdict == "unknown_number"


def test_precomputed_passage_vectors_are_used(
    embedder: Embedder, catheter: tuple[Passage, ...]
) -> None:
    embedded: list[str] = []

    def counting(texts: list[str]) -> NDArray[np.float32]:
        embedded.extend(texts)
        return embedder.embed(texts)

    vectors = {p.chunk_id: embedder.embed([s.text for s in p.sentences]) for p in catheter}
    grounds = SupportChecker(counting, THRESHOLD).grounds(catheter, vectors)
    assert embedded == []
    assert grounds.check("Always keep the bag lower than your bladder.").supported
    assert embedded == ["Always keep the bag lower than your bladder."]


# Choosing the composer


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


async def test_build_composer_follows_the_settings(embedder: Embedder) -> None:
    fallback = ExtractiveComposer()
    assert build_composer(settings(), embedder, fallback, print) is fallback
    assert build_composer(settings(llm_api_key=""), embedder, fallback, print) is fallback

    local = build_composer(
        settings(llm_base_url="http://127.0.0.1:8001/v1", llm_model="local-model"),
        embedder,
        fallback,
        print,
    )
    assert isinstance(local, GeneratedComposer) and local.name == "generated"
    await local.aclose()

    hosted = build_composer(
        settings(llm_api_key="sk-test", llm_timeout_s=7.5), embedder, fallback, print
    )
    assert isinstance(hosted, GeneratedComposer)
    client = hosted._client
    assert str(client.base_url).rstrip("/") == DEFAULT_BASE_URL
    assert client.api_key == "sk-test" and client.timeout == 7.5 and client.max_retries == 0
    await hosted.aclose()


async def test_built_composer_answers_through_the_local_server(
    llm: ScriptedChatServer, embedder: Embedder, driving: tuple[Passage, ...]
) -> None:
    fallbacks: list[str] = []
    composer = build_composer(
        settings(llm_base_url=llm.base_url, llm_model="local-model"),
        embedder,
        ExtractiveComposer(),
        fallbacks.append,
    )
    assert isinstance(composer, GeneratedComposer)
    stream: AsyncIterator[ComposedSentence] = composer.compose(ask(driving))
    got = [s.text async for s in stream]
    await composer.aclose()
    assert got[0] == "You should not drive until your surgeon says it is safe."
    assert llm.requests[-1].body["model"] == "local-model"
    assert llm.requests[-1].headers["authorization"] == "Bearer not-needed"
    assert fallbacks == []


# The whole turn, through the composition root


async def test_turns_through_the_composition_root(
    llm: ScriptedChatServer, embedder: Embedder, tmp_path: Path
) -> None:
    services = build_services(
        make_settings(tmp_path, llm_base_url=llm.base_url, llm_model="local-model")
    )
    services.embedder = embedder
    await services.start(ingest=True)
    try:
        assert services.assistant is not None
        question = "how long will the catheter stay in?"
        days = ClinicConfig().placeholders()["catheter_days"]
        llm.default = Script(
            f"Your catheter usually stays in for {days} days after the operation. "
            "It keeps the new join between your bladder and urethra open while it heals."
        )
        result = await services.assistant.ask(question)
        assert result.outcome == "answered"
        assert result.answer.startswith(f"Your catheter usually stays in for {days} days")
        assert result.answer.endswith("That comes from our guide, Your catheter at home.")
        assert [s.doc_id for s in result.sources] == ["catheter"]
        assert llm.requests[-1].body["model"] == "local-model"

        llm.default = Script(DONT_KNOW)
        result = await services.assistant.ask(question)
        assert result.outcome == "escalated"
        assert result.escalation is not None and result.escalation.reason == "low_confidence"
        assert DONT_KNOW not in result.answer

        llm.default = Script(status=500)
        result = await services.assistant.ask(question)
        assert result.outcome == "answered"
        extractive_answer = result.answer
        fallbacks = services.metrics.composer_fallbacks.labels("error")._value.get()
        assert fallbacks == 1
        assert "catheter" in extractive_answer.lower()
    finally:
        await services.stop()


def test_prompt_says_what_kind_of_answer_is_wanted(driving: tuple[Passage, ...]) -> None:
    user = build_messages(
        CompositionRequest("How long until I can drive?", driving, kind="when", strict=True)
    )[1].get("content")
    assert isinstance(user, str)
    assert "What he asks for: a time" in user
    assert f'answer exactly "{DONT_KNOW}"' in user
    assert user.rstrip().endswith("How long until I can drive?")
    plain = build_messages(CompositionRequest("Hello?", driving))[1].get("content")
    assert isinstance(plain, str) and "What he asks for" not in plain
