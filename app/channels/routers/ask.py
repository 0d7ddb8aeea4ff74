"""POST /v1/ask: one question, one answer object (the `aftercare ask` contract)."""

from fastapi import APIRouter

from app.channels.deps import AddressDep, KeyDep, ReadyDep
from app.channels.schemas import AskRequest, AskResponse

router = APIRouter(prefix="/v1", tags=["patients"])


@router.post("/ask", response_model=AskResponse)
async def ask(
    body: AskRequest, services: ReadyDep, key: KeyDep, address: AddressDep
) -> AskResponse:
    services.limits.check("ask", address, body.patient_id and f"patient:{body.patient_id}")
    result = await services.ask_patient(
        body.question, body.patient_id, key, channel="api", source=address
    )
    return AskResponse.of(result)
