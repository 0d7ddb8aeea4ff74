"""The prompt of the generated composer: written for a voice, bound to the passages given."""

from __future__ import annotations

import re
from collections.abc import Sequence

from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from app.conversation.composers.base import CompositionRequest, Message
from ingestion.search import Passage

DONT_KNOW = "I don't know from these guides."

# What each kind of question wants in its answer (``escalation.understanding``).
ANSWER_KINDS = {
    "when": "a time: how long, or when, with the condition it depends on.",
    "how_common": "how common it is: a number or proportion of men, as the passages give it.",
    "normal": "whether it is normal, and when he should call the team about it.",
    "can_i": "whether he may do it, and any condition or time before he can.",
    "how_to": "how to do it, as short spoken steps.",
    "why": "the reason, in one or two sentences.",
    "what": "what it is, and why it matters to him.",
}

HISTORY_MESSAGES = 6
_HISTORY_CHARS = 400

SYSTEM_PROMPT = f"""You are the voice of a recovery helpline for men who have had their prostate \
removed (radical prostatectomy). You answer a patient who is listening, not reading. Many \
are older and tired, so use plain, everyday words.

Rules:
1. Answer only from the numbered passages in the message. They come from guides the \
patient's clinic approved. Use nothing else you know.
2. Answer in 2 to 4 short spoken sentences. No lists, no headings, no markdown, no \
brackets, no passage numbers.
3. Never give a number, a time, a dose or a medicine that is not in the passages. Never \
suggest a diagnosis, and never tell him what his symptoms mean.
4. Say which guide the answer comes from, by its title, in a last short sentence like: \
That comes from our guide, <title>.
5. If the passages do not contain the answer, say exactly "{DONT_KNOW}" and nothing else.
6. Use his recovery stage and the earlier turns only to understand the question, never \
as a source of facts."""


def passage_line(number: int, passage: Passage) -> str:
    heading = f"{passage.title} > {passage.section}" if passage.section else passage.title
    return f"[{number}] {heading}: {' '.join(passage.text.split())}"


def _speaker(message: Message) -> str:
    return "Patient" if message.role in ("patient", "user") else "Assistant"


def _history_lines(history: Sequence[Message]) -> list[str]:
    lines = []
    for message in list(history)[-HISTORY_MESSAGES:]:
        text = " ".join(message.text.split())
        if len(text) > _HISTORY_CHARS:
            text = text[:_HISTORY_CHARS].rsplit(" ", 1)[0] + " ..."
        lines.append(f"{_speaker(message)}: {text}")
    return lines


def build_messages(request: CompositionRequest) -> list[ChatCompletionMessageParam]:
    """The system prompt and one user message: passages, context, then the question."""
    parts = ["Passages:"]
    parts += [passage_line(i, p) for i, p in enumerate(request.passages, start=1)]
    if request.patient_context:
        parts += ["", f"His recovery stage: {' '.join(request.patient_context.split())}"]
    if request.history:
        parts += ["", "The conversation so far:", *_history_lines(request.history)]
    wanted = ANSWER_KINDS.get(request.kind)
    if wanted:
        parts += ["", f"What he asks for: {wanted}"]
        if request.strict:
            parts.append(f'If the passages do not say this, answer exactly "{DONT_KNOW}"')
    parts += ["", f"His question: {' '.join(request.question.split())}"]
    system: ChatCompletionSystemMessageParam = {"role": "system", "content": SYSTEM_PROMPT}
    user: ChatCompletionUserMessageParam = {"role": "user", "content": "\n".join(parts)}
    return [system, user]


def _plain(text: str) -> str:
    return " ".join(
        re.sub(r"[^a-z]+", " ", text.lower().replace("’", "'").replace("'", "")).split()
    )


_DONT_KNOW_PLAIN = _plain(DONT_KNOW)


def is_dont_know(sentence: str) -> bool:
    """The fixed 'I don't know' form, whatever its punctuation, quotes or case."""
    plain = _plain(sentence)
    return plain.startswith(_DONT_KNOW_PLAIN) or plain in ("i dont know", "i do not know")
