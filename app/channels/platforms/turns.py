"""A platform's request turned into a reply: the assistant's turn, a greeting, or an
acknowledgement of a tool result. Shared by the HTTP endpoint and the Retell socket."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from app.channels.openai_compat import transfer_destination
from app.channels.platforms.reply_book import Reply
from app.channels.platforms.tools import end_call_tool, tool_call, transfer_tool
from app.conversation.front_door import Caller
from app.conversation.turn import CompletedEvent, SentenceEvent, TurnContext, TurnResult
from app.errors import EscalationWithheldError
from app.people.auth import bearer_key, clean_key
from app.services import Services
from escalation.intents import is_smalltalk


def platform_key(headers: Mapping[str, str]) -> str | None:
    """The key a platform presents: ``Authorization: Bearer`` or D-ID's ``x-api-key``."""
    return bearer_key(headers.get("authorization")) or clean_key(headers.get("x-api-key"))


async def produce_turn(
    services: Services,
    reply: Reply,
    utterance: str,
    context: TurnContext,
    tools: Sequence[Mapping[str, Any]] | None,
) -> None:
    """Run one turn into ``reply``; a transfer tool call when the turn handed over."""
    result: TurnResult | None = None
    try:
        async for event in services.door.turn(
            utterance, context, Caller.of(context.patient_id), metric="platform"
        ):
            if isinstance(event, SentenceEvent):
                reply.say(event.text)
            elif isinstance(event, CompletedEvent):
                result = event.result
    except EscalationWithheldError:
        reply.withheld = True
        return
    if result is None:
        return
    reply.result = result
    if says_goodbye(result):
        closer = end_call_tool(tools)
        arguments = closer.arguments({"reason": "the caller said goodbye"}) if closer else None
        if closer is not None and arguments is not None:
            reply.tool_calls.append(tool_call(f"call_{uuid.uuid4().hex[:24]}", closer, arguments))
        return
    destination = transfer_destination(result, services.clinic)
    tool = transfer_tool(tools)
    if destination is None or tool is None:
        return
    reason = "urgent symptoms" if result.outcome == "red_flag" else "needs the care team"
    arguments = tool.arguments(
        {
            "number": destination,
            "reason": reason,
            "client": "I'm putting you through to the care team now.",
            "agent": f"Aftercare patient call, {reason}: {result.question}"[:300],
        }
    )
    if arguments is not None:
        reply.tool_calls.append(tool_call(f"call_{uuid.uuid4().hex[:24]}", tool, arguments))


def says_goodbye(result: TurnResult) -> bool:
    return result.outcome == "smalltalk" and is_smalltalk(result.question) == "goodbye"


def transfer_number(reply: Reply, services: Services) -> str | None:
    """The E.164 number a reply hands the call to, for platforms without tools (Retell)."""
    if reply.result is None:
        return None
    return transfer_destination(reply.result, services.clinic)
