"""The web pages: the patient's conversation page, the coordinators' queue and the
clinicians' workspace."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(tags=["pages"])

WEB_DIR = Path(__file__).parents[1] / "web"

# Only these files are served; nothing else in the folder is reachable.
STATIC_FILES: dict[str, str] = {
    "patient.js": "text/javascript; charset=utf-8",
    "coordinator.js": "text/javascript; charset=utf-8",
    "clinician.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "livekit-client.umd.js": "text/javascript; charset=utf-8",
}
# Third-party files kept with their licence under web/vendor/ (pinned; see its README).
VENDORED: dict[str, str] = {
    "livekit-client.umd.js": "vendor/livekit-client/livekit-client.umd.js",
}

# No inline scripts or styles; avatar vendors' video rooms load over https in a frame, or join
# a LiveKit room (its signalling over wss, its region lookup over https).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self' ws: wss: https:",
        "img-src 'self' data:",
        "media-src 'self' blob: https:",
        "frame-src https:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The patient's key may be in the page address: never send it anywhere as a referrer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

STATIC_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


# The staff pages share their sign-in form and footer: each is kept once, and a page line
# ``<!-- include NAME -->`` is replaced by that file from the same folder.
INCLUDE = re.compile(r"^[ \t]*<!-- include ([a-z-]+\.html) -->\n", re.MULTILINE)


@functools.cache
def _html(name: str) -> str:
    page = (WEB_DIR / name).read_text(encoding="utf-8")
    return INCLUDE.sub(lambda found: (WEB_DIR / found[1]).read_text("utf-8"), page)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse(_html(name), headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False)
async def patient_page() -> HTMLResponse:
    return _page("index.html")


@router.get("/coordinator", include_in_schema=False)
async def coordinator_page() -> HTMLResponse:
    return _page("coordinator.html")


@router.get("/clinician", include_in_schema=False)
async def clinician_page() -> HTMLResponse:
    return _page("clinician.html")


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> FileResponse:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail="no such file")
    path = WEB_DIR / VENDORED.get(name, name)
    return FileResponse(path, media_type=media_type, headers=STATIC_HEADERS)
