"""FastAPI dependencies: the services, the caller's identity, typed for routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.documents import DocumentDesk
from app.errors import NotReadyError
from app.people import StaffMember
from app.services import Services

_bearer = HTTPBearer(auto_error=False)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def ready_services(services: ServicesDep) -> Services:
    if not services.ready:
        raise NotReadyError("the assistant is still loading its model and index")
    return services


ReadyDep = Annotated[Services, Depends(ready_services)]


def _staff(roles: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def check(services: ServicesDep, credentials: BearerDep) -> StaffMember:
        key = credentials.credentials if credentials else None
        return services.people.staff_for_key(key, roles)

    return check


CoordinatorDep = Annotated[StaffMember, Depends(_staff(("coordinator",)))]
# Clinicians own the corpus; coordinators may read the workspace but not change it.
ClinicianDep = Annotated[StaffMember, Depends(_staff(("clinician",)))]
WorkspaceReaderDep = Annotated[StaffMember, Depends(_staff(("clinician", "coordinator")))]


def desk_of(services: ServicesDep) -> DocumentDesk:
    assert services.desk is not None
    return services.desk


DeskDep = Annotated[DocumentDesk, Depends(desk_of)]
AnyStaffDep = Annotated[StaffMember, Depends(_staff(("clinician", "coordinator")))]
