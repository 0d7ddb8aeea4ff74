"""Coordinators add and edit patient records on their page (headless Chromium, the live app)."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.app.test_pages import (  # noqa: F401  (fixtures)
    Watched,
    browser,
    playwright,
    sign_in,
    watched,
)
from tests.platforms.conftest import PlatformApp


def test_a_coordinator_adds_then_edits_a_patient(
    watched: Watched,  # noqa: F811 (the imported fixture)
    platform_app: PlatformApp,
) -> None:
    live = platform_app.live
    page = watched.page
    sign_in(page, live, live.coordinator_key)
    expect(page.locator("#workspace")).to_be_visible()

    page.get_by_role("button", name="New patient").click()
    form = page.locator("#patient-form")
    form.get_by_label("Patient id").fill("pt-page-1")
    form.get_by_label("Name").fill("Elias Harper")
    form.get_by_label("Phone").fill("07912 345681")
    form.get_by_label("Date of birth").fill("1953-06-14")
    form.get_by_label("Surgery date").fill("2026-11-02")
    form.get_by_label("Surgery type").select_option("robotic")
    form.get_by_label("Catheter out").fill("2026-11-11")
    form.get_by_label("Preferred contact").select_option("sms")
    page.get_by_role("button", name="Add patient").click()
    expect(page.locator("#patient-form-done")).to_contain_text("Patient added")
    expect(page.locator("#patient-form-title")).to_have_text("Patient pt-page-1")
    expect(form.get_by_label("Phone")).to_have_value("+447912345681")

    # Edit: a new number in another common form, and the catheter date cleared.
    form.get_by_label("Phone").fill("+44 (0)7912 345682")
    form.get_by_label("Catheter out").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#patient-form-done")).to_have_text("Saved.")
    expect(form.get_by_label("Phone")).to_have_value("+447912345682")

    stored = httpx.get(
        f"{live.base_url}/v1/patients/pt-page-1",
        headers={"Authorization": f"Bearer {live.coordinator_key}"},
    ).json()
    assert stored["phone"] == "+447912345682"
    assert stored["catheter_out_on"] is None
    assert stored["date_of_birth"] == "1953-06-14" and stored["surgery_type"] == "robotic"
    assert stored["preferred_contact"] == "sms"
    actions = [row.action for row in live.services.people.audit_trail("pt-page-1")]
    assert "patient.create" in actions and "patient.update" in actions

    # Opening the record again by id shows what was stored.
    form.get_by_role("button", name="Close").click()
    page.get_by_label("Patient id").first.fill("pt-page-1")
    page.get_by_role("button", name="Open record").click()
    expect(form.get_by_label("Name")).to_have_value("Elias Harper")
    expect(form.get_by_label("Surgery date")).to_have_value("2026-11-02")


def test_bad_patient_details_are_explained_and_nothing_changes(
    watched: Watched,  # noqa: F811 (the imported fixture)
    platform_app: PlatformApp,
) -> None:
    live = platform_app.live
    page = watched.page
    sign_in(page, live, live.coordinator_key)
    page.get_by_label("Patient id").first.fill("pt-harold")
    page.get_by_role("button", name="Open record").click()
    form = page.locator("#patient-form")
    expect(form.get_by_label("Name")).to_have_value("Harold Finch")
    error = page.locator("#patient-form-error")

    form.get_by_label("Phone").fill("999")
    page.get_by_role("button", name="Save changes").click()
    expect(error).to_contain_text("not a valid phone number")

    form.get_by_label("Phone").fill("+447911123456")
    form.get_by_label("Date of birth").fill("2999-01-01")
    page.get_by_role("button", name="Save changes").click()
    expect(error).to_contain_text("date of birth must be in the past")

    form.get_by_label("Date of birth").fill("1952-03-04")
    form.get_by_label("Name").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(error).to_have_text("Please enter the patient's name.")

    stored = httpx.get(
        f"{live.base_url}/v1/patients/pt-harold",
        headers={"Authorization": f"Bearer {live.coordinator_key}"},
    ).json()
    assert stored["name"] == "Harold Finch" and stored["date_of_birth"] == "1952-03-04"

    form.get_by_role("button", name="Close").click()
    page.get_by_label("Patient id").first.fill("pt-nobody")
    page.get_by_role("button", name="Open record").click()
    expect(page.locator("#patient-find-error")).to_have_text("No patient has that id.")
    expect(form).to_be_hidden()
