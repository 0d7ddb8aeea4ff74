"""FastAPI dependencies: the services, the caller's identity, typed for routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from app.errors import NotAuthenticatedError, NotReadyError
from app.people.auth import PlatformCaller, authenticate_platform, bearer_key
from app.people.directory import StaffMember
from app.services import Services
from app.workspace.documents import DocumentDesk


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_address(connection: HTTPConnection) -> str | None:
    """The peer's address (behind a proxy, run uvicorn with --forwarded-allow-ips)."""
    return connection.client.host if connection.client else None


def presented_key(request: Request) -> str | None:
    """The bearer key, or None when the header is absent or malformed (never a 500)."""
    return bearer_key(request.headers.get("authorization"))


ServicesDep = Annotated[Services, Depends(get_services)]
KeyDep = Annotated[str | None, Depends(presented_key)]
AddressDep = Annotated[str | None, Depends(client_address)]


def ready_services(services: ServicesDep) -> Services:
    if not services.ready:
        raise NotReadyError("the assistant is still loading its model and index")
    return services


ReadyDep = Annotated[Services, Depends(ready_services)]


def _staff(roles: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def check(services: ServicesDep, key: KeyDep, address: AddressDep) -> StaffMember:
        services.limits.refuse_if_over("auth_failures", address)
        try:
            return services.people.staff_for_key(key, roles, address)
        except NotAuthenticatedError:
            services.limits.hit("auth_failures", address)
            raise

    return check


def platform(services: ServicesDep, key: KeyDep, address: AddressDep) -> PlatformCaller:
    return authenticate_platform(services, key, address)


CoordinatorDep = Annotated[StaffMember, Depends(_staff(("coordinator",)))]
StaffDep = Annotated[StaffMember, Depends(_staff(("coordinator", "clinician")))]
AdminDep = Annotated[StaffMember, Depends(_staff(("admin",)))]
PlatformDep = Annotated[PlatformCaller, Depends(platform)]
# Clinicians own the corpus; coordinators may read the workspace but not change it.
ClinicianDep = Annotated[StaffMember, Depends(_staff(("clinician",)))]
WorkspaceReaderDep = Annotated[StaffMember, Depends(_staff(("clinician", "coordinator")))]


def desk_of(services: ServicesDep) -> DocumentDesk:
    return services.desk


DeskDep = Annotated[DocumentDesk, Depends(desk_of)]
AnyStaffDep = Annotated[StaffMember, Depends(_staff(("clinician", "coordinator")))]
