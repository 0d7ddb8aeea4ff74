"""GET /v1/clinic: the numbers the patient page shows (emergency, on-call, nurse line)."""

from fastapi import APIRouter

from app.channels.deps import ServicesDep

router = APIRouter(prefix="/v1", tags=["patients"])


@router.get("/clinic")
async def clinic(services: ServicesDep) -> dict[str, str]:
    contacts = services.clinic.contacts
    return {"name": services.clinic.name, **contacts.model_dump()}
