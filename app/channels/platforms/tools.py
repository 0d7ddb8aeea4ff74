"""Which of a platform's tools hands a call over or ends it, and the arguments it wants.

Chosen by name and parameter schema from the request's ``tools``, never by a substring:
- Vapi ``transferCall`` with a ``destination`` string;
- ElevenLabs ``transfer_to_number`` (``transfer_number``, ``client_message``,
  ``agent_message``, ``reason``); its ``transfer_to_agent`` moves to another AI agent and is
  never used for a person;
- a generic ``transfer`` / ``transfer_call`` with a number-like parameter;
- ``end_call`` / ``endCall``.
Arguments are built from the tool's own properties; a required property we cannot fill
means the tool is not ours to call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRANSFER_NAMES = ("transfercall", "transfer_to_number", "transfer_call", "transfer")
END_NAMES = ("end_call", "endcall", "hangup", "end_conversation")
NUMBER_FIELDS = (
    "destination",
    "transfer_number",
    "phone_number",
    "phonenumber",
    "number",
    "phone",
    "to",
)
REASON_FIELDS = ("reason",)
CLIENT_MESSAGE_FIELDS = ("client_message", "message", "message_to_caller")
AGENT_MESSAGE_FIELDS = ("agent_message", "summary", "message_to_agent")


@dataclass(frozen=True)
class Tool:
    """A function tool offered by the platform: its name and its JSON-schema parameters."""

    name: str
    properties: Mapping[str, Any]
    required: tuple[str, ...]

    def arguments(self, values: Mapping[str, str]) -> dict[str, str] | None:
        """Arguments from ``values`` (keyed by role: number, reason, client, agent)."""
        args: dict[str, str] = {}
        for field in self.properties:
            value = _value_for(field, values)
            if value is None:
                continue
            allowed = (
                self.properties[field].get("enum")
                if isinstance(self.properties[field], Mapping)
                else None
            )
            if isinstance(allowed, list) and allowed and value not in allowed:
                continue
            args[field] = value
        if any(field not in args for field in self.required):
            return None
        return args


def _value_for(field: str, values: Mapping[str, str]) -> str | None:
    key = field.lower()
    if key in NUMBER_FIELDS:
        return values.get("number")
    if key in REASON_FIELDS:
        return values.get("reason")
    if key in CLIENT_MESSAGE_FIELDS:
        return values.get("client")
    if key in AGENT_MESSAGE_FIELDS:
        return values.get("agent")
    return None


def offered_tools(tools: Sequence[Mapping[str, Any]] | None) -> list[Tool]:
    """The function tools in an OpenAI ``tools`` list (other entries are skipped)."""
    found: list[Tool] = []
    for entry in tools or ():
        if not isinstance(entry, Mapping):
            continue
        function = entry.get("function") if entry.get("type") == "function" else entry
        if not isinstance(function, Mapping):
            continue
        name = function.get("name")
        if not isinstance(name, str) or not name:
            continue
        parameters = function.get("parameters")
        properties: Mapping[str, Any] = {}
        required: tuple[str, ...] = ()
        if isinstance(parameters, Mapping):
            raw_props = parameters.get("properties")
            properties = raw_props if isinstance(raw_props, Mapping) else {}
            raw_required = parameters.get("required")
            if isinstance(raw_required, list):
                required = tuple(str(r) for r in raw_required)
        found.append(Tool(name, properties, required))
    return found


def transfer_tool(tools: Sequence[Mapping[str, Any]] | None) -> Tool | None:
    """The tool that hands the call to a phone number, if the platform offers one."""
    for wanted in TRANSFER_NAMES:
        for tool in offered_tools(tools):
            if tool.name.lower() != wanted:
                continue
            if any(field.lower() in NUMBER_FIELDS for field in tool.properties):
                return tool
    return None


def end_call_tool(tools: Sequence[Mapping[str, Any]] | None) -> Tool | None:
    for tool in offered_tools(tools):
        if tool.name.lower() in END_NAMES:
            return tool
    return None


def tool_call(call_id: str, tool: Tool, arguments: Mapping[str, str]) -> dict[str, Any]:
    """One streamed ``tool_calls`` entry."""
    return {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": tool.name, "arguments": json.dumps(dict(arguments))},
    }
