"""Who a staff key belongs to: the pages use it to show what the signed-in role may do."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.channels.deps import AnyStaffDep

router = APIRouter(prefix="/v1/staff", tags=["staff"])


class StaffPublic(BaseModel):
    id: str
    name: str
    role: str


@router.get("/me", response_model=StaffPublic)
async def me(staff: AnyStaffDep) -> StaffPublic:
    return StaffPublic(id=staff.id, name=staff.name, role=staff.role)
