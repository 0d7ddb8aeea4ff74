"""The OpenAI chat-completions protocol, as avatar and voice platforms call a custom LLM.

Requests carry vendor fields of their own (Vapi's ``call``, ``customer``, ``metadata``;
ElevenLabs' ``elevenlabs_extra_body``; D-ID's ``created_at`` on messages and ``options``):
they are accepted; ``app.channels.platforms.calls`` reads the ones that say who is calling.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.channels.platforms.phone_numbers import to_e164
from app.conversation.composers.base import Message
from app.conversation.turn import TurnResult
from escalation.clinic import ClinicConfig


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return " ".join(
                str(part.get("text", "")) for part in self.content if part.get("type") == "text"
            )
        return ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = "aftercare"
    messages: list[ChatMessage] = Field(min_length=1)
    # D-ID sends no "stream" when its agent is set to non-streaming: a JSON reply.
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    user: str | None = None

    def last_kind(self) -> str:
        """What the request asks us to answer.

        ``user``: a patient's words; ``tool``: the result of a tool we called (never a new
        turn); ``assistant``: the platform spoke last (its own first message): greet;
        ``none``: nothing of a conversation (only system prompts).
        """
        for message in reversed(self.messages):
            if message.role in ("system", "developer"):
                continue
            if message.role == "user":
                return "user" if message.text().strip() else "none"
            if message.role in ("tool", "function"):
                return "tool"
            if message.role == "assistant":
                return "assistant"
        return "none"

    def utterance(self) -> str | None:
        """The patient's last words, when the request ends with them."""
        if self.last_kind() != "user":
            return None
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text().strip() or None
        return None

    def tool_result_call_id(self) -> str | None:
        for message in reversed(self.messages):
            if message.role in ("tool", "function"):
                ref = (message.model_extra or {}).get("tool_call_id")
                return ref if isinstance(ref, str) else None
        return None

    def called_tools(self) -> dict[str, str]:
        """Tool-call ids the conversation shows us making, with the tool's name."""
        calls: dict[str, str] = {}
        for message in self.messages:
            if message.role != "assistant":
                continue
            for call in (message.model_extra or {}).get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("id"), str):
                    name = (call.get("function") or {}).get("name")
                    calls[call["id"]] = name if isinstance(name, str) else ""
        return calls

    def history(self) -> tuple[Message, ...]:
        """The conversation before the last user message; system prompts are not ours."""
        last_user = max(
            (i for i, m in enumerate(self.messages) if m.role == "user"), default=len(self.messages)
        )
        return tuple(
            Message("patient" if m.role == "user" else "assistant", m.text())
            for m in self.messages[:last_user]
            if m.role in ("user", "assistant") and m.text().strip()
        )


def openai_error(
    message: str, kind: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def transfer_destination(result: TurnResult, clinic: ClinicConfig) -> str | None:
    """Where a call should go when the turn handed over to people, in E.164.

    Emergencies go to the on-call team (a person who can send help at once); the patient has
    already been told to call the emergency number himself, which a platform transfer
    cannot dial on every telephone network.
    """
    contacts = clinic.contacts
    if result.outcome == "red_flag" and result.red_flag is not None:
        return to_e164(contacts.on_call_phone, clinic.country)
    if result.outcome == "escalated":
        return to_e164(contacts.nurse_line_phone, clinic.country)
    return None


class CompletionIds:
    def __init__(self, model: str, id: str | None = None, created: int | None = None) -> None:
        self.id = id or new_completion_id()
        self.created = created or int(time.time())
        self.model = model

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    def completion(
        self, content: str, tool_calls: list[dict[str, Any]] | None, usage_words: int
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        finish: Literal["stop", "tool_calls"] = "stop"
        if tool_calls:
            message["tool_calls"] = [
                {k: v for k, v in c.items() if k != "index"} for c in tool_calls
            ]
            finish = "tool_calls"
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            # D-ID's non-streaming custom LLM reads a top-level "content".
            "content": content,
            "usage": {
                "prompt_tokens": 0,
                "completion_tokens": usage_words,
                "total_tokens": usage_words,
            },
        }
