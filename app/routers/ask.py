"""POST /v1/ask: one question, one answer object (the `aftercare ask` contract)."""

from fastapi import APIRouter

from app.deps import BearerDep, ReadyDep
from app.schemas import AskRequest, AskResponse

router = APIRouter(prefix="/v1", tags=["patients"])


@router.post("/ask", response_model=AskResponse)
async def ask(body: AskRequest, services: ReadyDep, credentials: BearerDep) -> AskResponse:
    key = credentials.credentials if credentials else None
    result = await services.ask_patient(body.question, body.patient_id, key, channel="api")
    return AskResponse.of(result)
