"""The OpenAI chat-completions protocol, as avatar and voice platforms call a custom LLM.

Requests carry vendor fields of their own (Vapi's ``call``, ``customer``, ``metadata``;
D-ID's ``created_at`` on messages): they are accepted and ignored.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.composers.base import Message
from app.turn import TurnResult
from escalation.clinic import ClinicConfig


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
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None

    def utterance(self) -> str | None:
        for message in reversed(self.messages):
            if message.role == "user":
                text = message.text().strip()
                return text or None
        return None

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

    def transfer_tool(self) -> str | None:
        """The name of a call-transfer tool the caller offers, if any."""
        for tool in self.tools or []:
            function = tool.get("function") if tool.get("type") == "function" else tool
            name = str((function or {}).get("name") or tool.get("type") or "")
            if "transfer" in name.lower():
                return name if function else "transferCall"
        return None


def openai_error(
    message: str, kind: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def transfer_destination(result: TurnResult, clinic: ClinicConfig) -> str | None:
    """Where a call should go when the turn handed over to people."""
    if result.outcome == "red_flag" and result.red_flag is not None:
        if result.red_flag.priority == "emergency":
            return clinic.contacts.emergency_number
        return clinic.contacts.on_call_phone
    if result.outcome == "escalated":
        return clinic.contacts.nurse_line_phone
    return None


class CompletionIds:
    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
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

    def tool_call(self, name: str, destination: str) -> dict[str, Any]:
        return {
            "index": 0,
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps({"destination": destination})},
        }

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
            "usage": {
                "prompt_tokens": 0,
                "completion_tokens": usage_words,
                "total_tokens": usage_words,
            },
        }
