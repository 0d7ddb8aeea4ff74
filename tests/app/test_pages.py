"""The patient and coordinator pages in headless Chromium against the real app over loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("headless Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    WebSocket,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from tests.app.conftest import LiveApp  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
NOTICE = (
    "Aftercare answers from guides your care team approved. It is not a substitute for "
    "your care team. In an emergency call 999."
)
XSS = "<img src=x onerror=alert(1)> what dose of warfarin should I take?"
WAIT_MS = 20_000


class Watched:
    """A page plus everything it reported: console errors, uncaught errors, dialogs, frames."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        self.frames: list[dict[str, Any]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("dialog", self._dialog)
        page.on("websocket", self._socket)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _socket(self, socket: WebSocket) -> None:
        def received(payload: str | bytes) -> None:
            if isinstance(payload, str):
                self.frames.append(json.loads(payload))

        socket.on("framereceived", received)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield launched
    launched.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    seen = Watched(page)
    yield seen
    context.close()
    assert seen.page_errors == [], seen.page_errors
    assert seen.dialogs == [], seen.dialogs


def open_patient_page(seen: Watched, live: LiveApp) -> Page:
    page = seen.page
    page.goto(live.base_url + "/")
    # (wait_for_function would evaluate a string, which the page's policy rightly forbids)
    expect(page.locator("body")).to_have_attribute("data-connection", "open")
    return page


def ask_by_typing(page: Page, question: str) -> Any:
    page.get_by_label("Type your question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    turn = page.locator("#conversation > li.turn").last
    expect(turn.locator(".question-text")).to_have_text(question)
    return turn


def assert_no_horizontal_scroll(page: Page) -> None:
    page.set_viewport_size({"width": 640, "height": 900})
    overflow = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1], overflow
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page: Page, live: LiveApp, key: str) -> None:
    page.goto(live.base_url + "/coordinator")
    page.get_by_label("Staff key").fill(key)
    page.get_by_role("button", name="Sign in").click()


# ---- the patient page -------------------------------------------------------------------


def test_patient_page_shows_the_notice_with_a_strict_policy_and_no_errors(
    watched: Watched, live_app: LiveApp
) -> None:
    response = httpx.get(live_app.base_url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in response.text and " on" + "click=" not in response.text
    assert re.search(r"https?://", response.text) is None  # nothing loaded from elsewhere

    page = open_patient_page(watched, live_app)
    expect(page.locator("#safety-text")).to_have_text(NOTICE)
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")
    # Either the voice controls or the reason they are missing, never both.
    has_recognition = page.evaluate(
        "() => Boolean(window.SpeechRecognition || window.webkitSpeechRecognition)"
    )
    expect(page.get_by_role("button", name="Hold to talk")).to_be_visible(visible=has_recognition)
    expect(page.locator("#voice-unavailable")).to_be_visible(visible=not has_recognition)
    # The clinic's numbers come from the server.
    expect(page.locator("#contacts")).to_contain_text(
        live_app.services.clinic.contacts.nurse_line_phone
    )
    font_size = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert font_size >= 20
    assert watched.console_errors == []


def test_static_files_are_limited_to_the_known_ones(live_app: LiveApp) -> None:
    script = httpx.get(live_app.base_url + "/static/patient.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    style = httpx.get(live_app.base_url + "/static/style.css")
    assert style.headers["content-type"].startswith("text/css")
    page = httpx.get(live_app.base_url + "/coordinator")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name in ("index.html", "..%2Fpages.py", "missing.js", "%2e%2e%2frouters%2fpages.py"):
        assert httpx.get(live_app.base_url + "/static/" + name).status_code == 404


def test_typed_question_streams_the_answer_with_its_source(
    watched: Watched, live_app: LiveApp
) -> None:
    page = open_patient_page(watched, live_app)
    turn = ask_by_typing(page, "how long will the catheter stay in?")
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.locator(".answer-text")).to_contain_text("7 to 10")
    expect(turn.locator(".source-title").first).to_have_text("Your catheter at home")
    sentences = [f for f in watched.frames if f["type"] == "speech.sentence"]
    assert len(sentences) == turn.locator(".sentence").count() >= 1
    assert [f["index"] for f in sentences] == list(range(len(sentences)))
    page.screenshot(path="/tmp/aftercare-patient.png", full_page=True)
    assert_no_horizontal_scroll(page)
    assert watched.console_errors == []


def test_chest_pain_shows_the_red_flag_alert(watched: Watched, live_app: LiveApp) -> None:
    page = open_patient_page(watched, live_app)
    turn = ask_by_typing(page, "I have chest pain")
    alert = turn.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("data-priority", "emergency")
    expect(alert).to_contain_text(live_app.services.clinic.contacts.emergency_number)
    expect(turn.locator(".escalation-card")).to_be_visible()
    expect(turn).to_have_attribute("data-state", "done")
    page.screenshot(path="/tmp/aftercare-patient-red-flag.png", full_page=True)
    assert_no_horizontal_scroll(page)


def test_stop_ends_the_turn_and_no_more_of_it_arrives(watched: Watched, live_app: LiveApp) -> None:
    page = open_patient_page(watched, live_app)
    # The interrupt leaves on the page's own socket right behind the question.
    page.evaluate(
        "() => { window.aftercare.ask('how long will the catheter stay in?');"
        " window.aftercare.stop(); }"
    )
    turn = page.locator("#conversation > li.turn").first
    expect(turn).to_have_attribute("data-state", "stopped")
    expect(turn.locator(".turn-status")).to_have_text("Stopped")
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()
    page.wait_for_timeout(1500)  # let any late frames arrive before counting
    cancelled = [f for f in watched.frames if f["type"] == "turn.cancelled"]
    assert len(cancelled) == 1, watched.frames
    cancelled_id = cancelled[0]["turn_id"]
    after_cancel = watched.frames[watched.frames.index(cancelled[0]) + 1 :]
    assert not [
        f for f in after_cancel if f["type"] == "speech.sentence" and f["turn_id"] == cancelled_id
    ]
    assert not [f for f in watched.frames if f["type"] == "turn.completed"]
    assert turn.locator(".sentence").count() == 0
    # The conversation goes on normally afterwards.
    next_turn = ask_by_typing(page, "how long will the catheter stay in?")
    expect(next_turn).to_have_attribute("data-state", "done")
    expect(next_turn.locator(".answer-text")).to_contain_text("7 to 10")
    expect(turn).to_have_attribute("data-state", "stopped")


def test_a_dropped_socket_is_announced_and_reconnects(watched: Watched, live_app: LiveApp) -> None:
    page = watched.page
    routes: list[WebSocketRoute] = []
    network = {"up": True}

    def through(route: WebSocketRoute) -> None:
        routes.append(route)
        if network["up"]:
            route.connect_to_server()
        else:
            route.close(code=1011, reason="network gone")

    page.route_web_socket(re.compile(r"/v1/voice"), through)
    open_patient_page(watched, live_app)
    network["up"] = False
    routes[-1].close(code=1011, reason="network gone")
    banner = page.locator("#connection")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("The voice connection was lost")
    expect(banner).to_contain_text("Trying again in")
    page.wait_for_timeout(1500)  # the first automatic retry fails too
    assert len(routes) >= 2
    expect(banner).to_be_visible()
    network["up"] = True
    page.get_by_role("button", name="Reconnect").click()
    expect(page.locator("body")).to_have_attribute("data-connection", "open")
    expect(banner).to_be_hidden()
    turn = ask_by_typing(page, "how long will the catheter stay in?")
    expect(turn.locator(".answer-text")).to_contain_text("7 to 10")


def test_patient_text_is_never_markup_on_the_patient_page(
    watched: Watched, live_app: LiveApp
) -> None:
    # A named patient, signed in by his one-time link: his escalations are booked.
    people = live_app.services.people
    people.add_patient("p-page-xss", "Page Patient")
    code = people.link_code("p-page-xss", ttl_s=600)
    page = watched.page
    page.goto(f"{live_app.base_url}/?code={code}")
    expect(page.locator("body")).to_have_attribute("data-connection", "open")
    assert "code=" not in page.url
    turn = ask_by_typing(page, XSS)
    expect(turn).to_have_attribute("data-state", "done")
    assert page.locator("#conversation img").count() == 0
    # Not in the guides: a booked call, its time written out in full.
    expect(turn.locator(".escalation-card .appointment")).to_have_text(
        re.compile(r"^Your call with .+: [A-Z][a-z]+day \d{1,2} [A-Z][a-z]+, \d\d:\d\d$")
    )


# ---- the coordinator page ----------------------------------------------------------------


def test_wrong_key_is_rejected(watched: Watched, live_app: LiveApp) -> None:
    page = watched.page
    sign_in(page, live_app, "not-a-real-key")
    expect(page.locator("#sign-in-error")).to_have_text("That key was not accepted")
    expect(page.locator("#workspace")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.getItem('aftercare.staffKey')") is None


def test_clinician_key_cannot_work_the_queue(watched: Watched, live_app: LiveApp) -> None:
    page = watched.page
    sign_in(page, live_app, live_app.clinician_key)
    expect(page.locator("#sign-in-error")).to_have_text("Your role cannot do this")
    expect(page.locator("#workspace")).to_be_hidden()


def escalate(live: LiveApp, question: str) -> str:
    body = httpx.post(live.base_url + "/v1/ask", json={"question": question}, timeout=60).json()
    assert body["escalation"] is not None, body
    return str(body["escalation"]["id"])


def test_coordinator_acknowledges_and_resolves_an_escalation(
    watched: Watched, live_app: LiveApp
) -> None:
    escalation_id = escalate(live_app, "what dose of metformin should I take?")
    # A named patient's escalation, so that the book has an appointment to show.
    _, key = live_app.services.people.add_patient("p-page-book", "Booked Patient")
    booked = httpx.post(
        live_app.base_url + "/v1/ask",
        json={"question": "which brand of pads is cheapest online?", "patient_id": "p-page-book"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ).json()
    assert booked["escalation"]["appointment"] is not None, booked
    page = watched.page
    sign_in(page, live_app, live_app.coordinator_key)
    expect(page.locator("#workspace")).to_be_visible()
    page.get_by_label("Status").select_option("")
    card = page.locator(f'li.escalation[data-id="{escalation_id}"]')
    expect(card.locator(".patient-question")).to_have_text("what dose of metformin should I take?")
    expect(card.locator(".escalation-reason")).to_have_text("Low confidence")
    expect(card.locator(".facts")).to_contain_text("not identified")
    card.locator("summary", has_text="Retrieved passages").click()
    expect(card.locator(".passages")).to_contain_text("score")
    expect(page.locator("#appointments > li").first).to_be_visible()
    page.screenshot(path="/tmp/aftercare-coordinator.png", full_page=True)
    assert_no_horizontal_scroll(page)

    card.get_by_role("button", name="Acknowledge").click()
    expect(card).to_have_attribute("data-status", "acknowledged")
    expect(card.get_by_role("button", name="Acknowledge")).to_be_disabled()

    card.get_by_role("button", name="Resolve").click()
    card.get_by_role("button", name="Confirm resolve").click()
    expect(card.get_by_role("alert")).to_have_text(re.compile("Please write a note"))
    card.get_by_label("Resolution note (required)").fill("Called him back; he asks his GP.")
    card.get_by_role("button", name="Confirm resolve").click()
    expect(card).to_have_attribute("data-status", "resolved")
    expect(card.get_by_role("button", name="Resolve")).to_have_count(0)

    stored = httpx.get(
        f"{live_app.base_url}/v1/escalations/{escalation_id}",
        headers={"Authorization": f"Bearer {live_app.coordinator_key}"},
    ).json()
    assert stored["status"] == "resolved"
    assert stored["events"][-1]["note"] == "Called him back; he asks his GP."

    # Resolved escalations leave the default view.
    page.get_by_label("Status").select_option("active")
    expect(card).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('aftercare.staffKey')") is None


def test_patient_text_is_never_markup_on_the_coordinator_page(
    watched: Watched, live_app: LiveApp
) -> None:
    escalation_id = escalate(live_app, XSS)
    page = watched.page
    sign_in(page, live_app, live_app.coordinator_key)
    card = page.locator(f'li.escalation[data-id="{escalation_id}"]')
    expect(card.locator(".patient-question")).to_have_text(XSS)
    card.locator("summary", has_text="Conversation").click()
    page.wait_for_timeout(300)
    assert page.locator("#queue img").count() == 0
