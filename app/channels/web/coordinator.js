// Aftercare coordinator page: the live escalation queue and the appointment book.
// Everything from the server is patient or staff text: set with textContent only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = "aftercare.staffKey";
  const POLL_MS = 5000;
  const PRIORITY_RANK = { emergency: 0, urgent: 1, routine: 2 };
  const CLOSED = new Set(["resolved", "cancelled"]);

  const els = {
    body: document.body,
    signIn: $("sign-in"),
    signInForm: $("sign-in-form"),
    staffKey: $("staff-key"),
    signInError: $("sign-in-error"),
    workspace: $("workspace"),
    filters: $("filters"),
    status: $("filter-status"),
    priority: $("filter-priority"),
    refresh: $("refresh"),
    signOut: $("sign-out"),
    updated: $("updated"),
    queueError: $("queue-error"),
    queueEmpty: $("queue-empty"),
    queue: $("queue"),
    appointments: $("appointments"),
    appointmentsError: $("appointments-error"),
    appointmentsEmpty: $("appointments-empty"),
  };

  const cards = new Map(); // escalation id -> {li, updatedAt, escalation}
  let pollTimer = null;
  let loading = false;

  // ---- small helpers ------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function showError(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  function plural(count, noun) {
    return count + " " + noun + (count === 1 ? "" : "s");
  }

  function words(value) {
    return String(value || "").replace(/_/g, " ");
  }

  function formatTime(iso, withDate) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    const options = withDate === false
      ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
      : { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    return new Intl.DateTimeFormat("en-GB", options).format(date);
  }

  function ago(iso) {
    const then = new Date(iso).getTime();
    if (Number.isNaN(then)) return "";
    const minutes = Math.round((Date.now() - then) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return minutes + (minutes === 1 ? " minute ago" : " minutes ago");
    const hours = Math.round(minutes / 60);
    if (hours < 48) return hours + (hours === 1 ? " hour ago" : " hours ago");
    return Math.round(hours / 24) + " days ago";
  }

  function reasonText(escalation) {
    switch (escalation.reason) {
      case "low_confidence":
        return "Low confidence";
      case "red_flag":
        return "Red flag: " + (escalation.red_flag_rule ? words(escalation.red_flag_rule) : "danger sign");
      case "patient_request":
        return "Patient asked for a person";
      default:
        return words(escalation.reason) || "Escalation";
    }
  }

  // ---- the API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function staffKey() {
    try {
      return sessionStorage.getItem(KEY_STORE);
    } catch (e) {
      return null;
    }
  }

  function errorText(error) {
    switch (error.status) {
      case 401:
        return "That key was not accepted";
      case 403:
        return "Your role cannot do this";
      case 409:
        return "That change is not allowed for this escalation now";
      case 404:
        return "That escalation no longer exists";
      case 422:
        return "Some of the details are not valid: " + error.message;
      case 0:
        return "Cannot reach the server. It will be tried again shortly.";
      default:
        return "The server could not do that (error " + error.status + "). Please try again.";
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json", Authorization: "Bearer " + (staffKey() || "") };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network");
    }
    if (!response.ok) {
      let detail = "";
      try {
        const data = await response.json();
        if (typeof data.detail === "string") {
          detail = data.detail;
        } else if (Array.isArray(data.detail)) {
          // 422: [{field, message}]; shown as "field: message".
          detail = data.detail
            .map((item) => (item && item.field ? words(item.field) + ": " : "") + ((item && item.message) || ""))
            .join("; ");
        }
      } catch (e) {
        detail = "";
      }
      if (response.status === 401) signOut("That key was not accepted");
      throw new ApiError(response.status, detail);
    }
    return response.json();
  }

  // ---- signing in and out -------------------------------------------------------------------

  function showSignedIn(on) {
    els.body.dataset.signedIn = on ? "true" : "false";
    els.signIn.hidden = on;
    els.workspace.hidden = !on;
  }

  function signOut(reason) {
    try {
      sessionStorage.removeItem(KEY_STORE);
    } catch (e) {
      /* nothing stored */
    }
    clearTimeout(pollTimer);
    pollTimer = null;
    cards.clear();
    els.queue.replaceChildren();
    els.appointments.replaceChildren();
    $("patient-form").reset();
    $("patient-form").hidden = true;
    showError(els.queueError, "");
    showSignedIn(false);
    showError(els.signInError, reason || "");
    els.staffKey.value = "";
    els.staffKey.focus();
  }

  els.signInForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = els.staffKey.value.trim();
    if (!key) {
      showError(els.signInError, "Please enter your staff key.");
      return;
    }
    try {
      sessionStorage.setItem(KEY_STORE, key);
    } catch (e) {
      showError(els.signInError, "This browser does not allow the key to be kept for this tab.");
      return;
    }
    showError(els.signInError, "");
    try {
      await api("GET", "/v1/escalations");
    } catch (error) {
      if (error.status !== 401) showError(els.signInError, errorText(error));
      if (error.status === 403) {
        try {
          sessionStorage.removeItem(KEY_STORE);
        } catch (e) {
          /* nothing stored */
        }
      }
      return;
    }
    els.staffKey.value = "";
    showSignedIn(true);
    refresh();
  });

  els.signOut.addEventListener("click", () => signOut(""));

  // ---- the queue ----------------------------------------------------------------------------

  async function refresh() {
    if (!staffKey()) return;
    clearTimeout(pollTimer);
    if (loading) {
      pollTimer = setTimeout(refresh, POLL_MS);
      return;
    }
    loading = true;
    try {
      const params = new URLSearchParams();
      const status = els.status.value;
      if (status && status !== "active") params.set("status", status);
      if (els.priority.value) params.set("priority", els.priority.value);
      params.set("limit", "200"); // the server's largest page by default
      const query = params.toString();
      const list = await api("GET", "/v1/escalations" + (query ? "?" + query : ""));
      const shown = status === "active" ? list.filter((e) => !CLOSED.has(e.status)) : list;
      renderQueue(shown);
      showError(els.queueError, "");
      els.updated.textContent = "Updated at " + formatTime(new Date().toISOString(), false)
        + ". The list refreshes every 5 seconds.";
      await loadAppointments();
    } catch (error) {
      if (error.status !== 401) showError(els.queueError, errorText(error));
    } finally {
      loading = false;
      if (staffKey()) pollTimer = setTimeout(refresh, POLL_MS);
    }
  }

  function byUrgency(a, b) {
    const rank = (PRIORITY_RANK[a.priority] ?? 3) - (PRIORITY_RANK[b.priority] ?? 3);
    if (rank !== 0) return rank;
    return new Date(a.created_at).getTime() - new Date(b.created_at).getTime();
  }

  function renderQueue(list) {
    const sorted = list.slice().sort(byUrgency);
    const nodes = [];
    const seen = new Set();
    for (const escalation of sorted) {
      seen.add(escalation.id);
      const existing = cards.get(escalation.id);
      if (existing && (existing.updatedAt === escalation.updated_at || isBusy(existing.li))) {
        nodes.push(existing.li);
        continue;
      }
      nodes.push(placeCard(escalation, existing ? existing.li : null));
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.li.remove();
        cards.delete(id);
      }
    }
    const order = Array.from(els.queue.children);
    const same = order.length === nodes.length && order.every((node, i) => node === nodes[i]);
    if (!same) els.queue.replaceChildren(...nodes);
    els.queueEmpty.hidden = nodes.length > 0;
  }

  // An open form or focus inside a card means someone is working on it: leave it alone.
  function isBusy(li) {
    return Boolean(li.querySelector(".resolve-form, .reschedule-form")) || li.contains(document.activeElement);
  }

  function placeCard(escalation, old) {
    const li = buildCard(escalation);
    if (old) {
      for (const details of old.querySelectorAll("details[data-part]")) {
        const twin = li.querySelector('details[data-part="' + details.dataset.part + '"]');
        if (twin) twin.open = details.open;
      }
      if (old.parentNode) old.replaceWith(li);
    }
    cards.set(escalation.id, { li, updatedAt: escalation.updated_at, escalation });
    return li;
  }

  function buildCard(escalation) {
    const li = el("li", "escalation");
    li.dataset.id = escalation.id;
    li.dataset.priority = escalation.priority;
    li.dataset.status = escalation.status;

    const head = el("div", "escalation-head");
    head.append(
      el("span", "badge badge-" + (PRIORITY_RANK[escalation.priority] !== undefined ? escalation.priority : "routine"),
        escalation.priority),
      el("h3", "escalation-reason", reasonText(escalation)),
      el("span", "badge badge-status escalation-status", words(escalation.status)),
    );
    li.append(head);

    const facts = el("dl", "facts");
    const fact = (label, value) => facts.append(el("dt", null, label), el("dd", null, value));
    fact("Created", formatTime(escalation.created_at) + " (" + ago(escalation.created_at) + ")");
    fact("Patient", escalation.patient_id || "not identified");
    fact("Confidence", typeof escalation.confidence === "number" ? escalation.confidence.toFixed(2) : "not measured");
    const appointment = escalation.appointment;
    if (appointment) {
      const state = appointment.status && appointment.status !== "booked" ? " (" + words(appointment.status) + ")" : "";
      fact("Appointment", (appointment.clinician_name || appointment.clinician_id) + ", "
        + formatTime(appointment.start) + "\u2013" + formatTime(appointment.end, false) + state);
    } else {
      fact("Appointment", "no appointment");
    }
    li.append(facts);

    if (escalation.needs_attention) {
      li.append(el("p", "attention", "Needs attention: " + (escalation.attention_reason || "please check this escalation")));
    }

    li.append(el("p", "speaker", "Question"), el("p", "patient-question", escalation.question));

    const conversation = Array.isArray(escalation.conversation) ? escalation.conversation : [];
    const transcript = el("details", "conversation-details");
    transcript.dataset.part = "conversation";
    transcript.append(el("summary", null, "Conversation (" + plural(conversation.length, "message") + ")"));
    const lines = el("ol", "transcript");
    for (const message of conversation) {
      const line = el("li");
      const who = message.role === "patient" || message.role === "user" ? "Patient" : words(message.role) || "Aftercare";
      line.append(el("strong", null, who.charAt(0).toUpperCase() + who.slice(1) + ": "), String(message.text ?? ""));
      lines.append(line);
    }
    if (conversation.length === 0) lines.append(el("li", null, "No earlier messages."));
    transcript.append(lines);
    li.append(transcript);

    const passages = Array.isArray(escalation.passages) ? escalation.passages : [];
    const found = el("details", "passage-details");
    found.dataset.part = "passages";
    found.append(el("summary", null, "Retrieved passages (" + passages.length + ")"));
    const items = el("ol", "passages");
    for (const passage of passages) {
      const item = el("li");
      const score = typeof passage.score === "number" ? passage.score.toFixed(2) : "?";
      const where = [passage.title, passage.section].filter(Boolean).join(" \u203a ");
      item.append(
        el("span", "passage-meta", where + " (score " + score + (passage.version ? ", version " + passage.version : "") + ")"),
        el("span", "passage-excerpt", passage.excerpt || ""),
      );
      items.append(item);
    }
    if (passages.length === 0) items.append(el("li", null, "No passages were retrieved."));
    found.append(items);
    li.append(found);

    const events = Array.isArray(escalation.events) ? escalation.events : [];
    if (events.length > 0) {
      const history = el("details", "history-details");
      history.dataset.part = "history";
      history.append(el("summary", null, "History (" + events.length + ")"));
      const steps = el("ol", "transcript");
      for (const event of events) {
        const from = event.from_status ? words(event.from_status) + " \u2192 " : "";
        const note = event.note ? ": " + event.note : "";
        steps.append(el("li", null, formatTime(event.at) + ", " + from + words(event.to_status) + " by " + event.actor + note));
      }
      history.append(steps);
      li.append(history);
    }

    const error = el("p", "inline-error card-error");
    error.setAttribute("role", "alert");
    error.hidden = true;

    if (!CLOSED.has(escalation.status)) {
      const actions = el("div", "actions");
      const acknowledge = el("button", "button button-primary action-acknowledge", "Acknowledge");
      acknowledge.type = "button";
      acknowledge.disabled = escalation.status === "acknowledged";
      const resolve = el("button", "button button-secondary action-resolve", "Resolve");
      resolve.type = "button";
      const reschedule = el("button", "button button-secondary action-reschedule", "Reschedule");
      reschedule.type = "button";
      actions.append(acknowledge, resolve, reschedule);
      li.append(actions);

      acknowledge.addEventListener("click", () =>
        act(li, escalation, "acknowledge", undefined, acknowledge));
      resolve.addEventListener("click", () => openResolve(li, escalation, error));
      reschedule.addEventListener("click", () => openReschedule(li, escalation, error));
    }
    li.append(error);
    return li;
  }

  async function act(li, escalation, action, body, button) {
    const error = li.querySelector(".card-error");
    showError(error, "");
    if (button) button.disabled = true;
    try {
      const updated = await api("POST", "/v1/escalations/" + encodeURIComponent(escalation.id) + "/" + action, body);
      placeCard(updated, li);
      return true;
    } catch (e) {
      if (e.status !== 401) {
        showError(error, errorText(e));
        if (e.status === 409) refreshSoon();
      }
      return false;
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  }

  function refreshSoon() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(refresh, 1500);
  }

  function closeForms(li) {
    for (const form of li.querySelectorAll(".resolve-form, .reschedule-form")) form.remove();
  }

  // A small form under an escalation's actions: a labelled field, confirm and cancel.
  function actionForm(li, className, id, labelText, field, confirmClass, confirmText) {
    const form = el("form", className);
    form.noValidate = true;
    const label = el("label", null, labelText);
    label.htmlFor = id;
    field.id = id;
    const row = el("div", "button-row");
    const confirm = el("button", "button button-primary " + confirmClass, confirmText);
    confirm.type = "submit";
    const cancel = el("button", "button", "Cancel");
    cancel.type = "button";
    row.append(confirm, cancel);
    form.append(label, field, row);
    li.querySelector(".actions").after(form);
    field.focus();
    cancel.addEventListener("click", () => form.remove());
    return { form, confirm };
  }

  function openResolve(li, escalation, error) {
    closeForms(li);
    showError(error, "");
    const note = el("textarea", "resolve-note");
    note.rows = 3;
    note.maxLength = 4000;
    note.required = true;
    const { form, confirm } = actionForm(
      li, "resolve-form", "note-" + escalation.id, "Resolution note (required)", note,
      "action-confirm-resolve", "Confirm resolve");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = note.value.trim();
      if (!text) {
        showError(error, "Please write a note saying how this was resolved.");
        note.focus();
        return;
      }
      await act(li, escalation, "resolve", { note: text }, confirm);
    });
  }

  function openReschedule(li, escalation, error) {
    closeForms(li);
    showError(error, "");
    const when = el("input", "reschedule-when");
    when.type = "datetime-local";
    const { form, confirm } = actionForm(
      li, "reschedule-form", "not-before-" + escalation.id,
      "Not before (leave empty for the first free time)", when,
      "action-confirm-reschedule", "Book a new time");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let notBefore = null;
      if (when.value) {
        const date = new Date(when.value); // local time as typed
        if (Number.isNaN(date.getTime())) {
          showError(error, "Please enter a valid date and time.");
          return;
        }
        notBefore = date.toISOString();
      }
      await act(li, escalation, "reschedule", { not_before: notBefore }, confirm);
    });
  }

  // ---- appointments -------------------------------------------------------------------------

  async function loadAppointments() {
    const start = new Date();
    const end = new Date(start.getTime() + 14 * 24 * 3600 * 1000);
    const params = new URLSearchParams({ start: start.toISOString(), end: end.toISOString() });
    try {
      const list = await api("GET", "/v1/appointments?" + params.toString());
      list.sort((a, b) => new Date(a.start).getTime() - new Date(b.start).getTime());
      const items = list.map((appointment) => {
        const item = el("li");
        item.dataset.id = appointment.id;
        item.append(
          el("strong", null, formatTime(appointment.start) + "\u2013" + formatTime(appointment.end, false)),
          " with " + (appointment.clinician_name || appointment.clinician_id)
            + (appointment.status && appointment.status !== "booked" ? " (" + words(appointment.status) + ")" : ""),
        );
        return item;
      });
      els.appointments.replaceChildren(...items);
      els.appointmentsEmpty.hidden = items.length > 0;
      showError(els.appointmentsError, "");
    } catch (e) {
      if (e.status !== 401) showError(els.appointmentsError, errorText(e));
    }
  }

  // ---- patient records ----------------------------------------------------------------------

  const patient = {
    find: $("patient-find"),
    findId: $("patient-find-id"),
    findError: $("patient-find-error"),
    newButton: $("patient-new"),
    form: $("patient-form"),
    title: $("patient-form-title"),
    idField: $("patient-id-field"),
    id: $("patient-id"),
    name: $("patient-name"),
    phone: $("patient-phone"),
    dob: $("patient-dob"),
    surgeryDate: $("patient-surgery-date"),
    surgeryType: $("patient-surgery-type"),
    catheterOut: $("patient-catheter-out"),
    contact: $("patient-contact"),
    error: $("patient-form-error"),
    done: $("patient-form-done"),
    save: $("patient-save"),
    close: $("patient-close"),
  };
  let editing = null; // the patient id being edited, or null for a new patient

  function patientErrorText(error) {
    if (error.status === 404) return "No patient has that id.";
    if (error.status === 409) return "A patient with that id already exists.";
    if (error.status === 400 && error.message) return error.message;
    return errorText(error);
  }

  function fillPatient(record) {
    patient.id.value = record ? record.id : "";
    patient.name.value = record ? record.name || "" : "";
    patient.phone.value = record ? record.phone || "" : "";
    patient.dob.value = record ? record.date_of_birth || "" : "";
    patient.surgeryDate.value = record ? record.surgery_date || "" : "";
    patient.surgeryType.value = record ? record.surgery_type || "" : "";
    patient.catheterOut.value = record ? record.catheter_out_on || "" : "";
    patient.contact.value = record ? record.preferred_contact || "" : "";
  }

  function showPatientForm(record) {
    editing = record ? record.id : null;
    fillPatient(record);
    patient.title.textContent = record ? "Patient " + record.id : "New patient";
    patient.idField.hidden = Boolean(record);
    patient.save.textContent = record ? "Save changes" : "Add patient";
    showError(patient.error, "");
    patient.done.hidden = true;
    patient.form.hidden = false;
    (record ? patient.name : patient.id).focus();
  }

  function patientBody() {
    const value = (input) => input.value.trim() || null;
    return {
      name: patient.name.value.trim(),
      phone: value(patient.phone),
      date_of_birth: value(patient.dob),
      surgery_date: value(patient.surgeryDate),
      surgery_type: value(patient.surgeryType),
      catheter_out_on: value(patient.catheterOut),
      preferred_contact: value(patient.contact),
    };
  }

  patient.find.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = patient.findId.value.trim();
    if (!id) {
      showError(patient.findError, "Please enter the patient's id.");
      return;
    }
    try {
      const record = await api("GET", "/v1/patients/" + encodeURIComponent(id));
      showError(patient.findError, "");
      showPatientForm(record);
    } catch (error) {
      patient.form.hidden = true;
      if (error.status !== 401) showError(patient.findError, patientErrorText(error));
    }
  });

  patient.newButton.addEventListener("click", () => {
    showError(patient.findError, "");
    showPatientForm(null);
  });

  patient.close.addEventListener("click", () => {
    patient.form.hidden = true;
    editing = null;
  });

  patient.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = patientBody();
    if (!body.name) {
      showError(patient.error, "Please enter the patient's name.");
      patient.name.focus();
      return;
    }
    if (editing === null && !patient.id.value.trim()) {
      showError(patient.error, "Please enter an id for the new patient.");
      patient.id.focus();
      return;
    }
    patient.save.disabled = true;
    try {
      let record;
      if (editing === null) {
        record = await api("POST", "/v1/patients", { id: patient.id.value.trim(), ...body });
      } else {
        record = await api("PATCH", "/v1/patients/" + encodeURIComponent(editing), body);
      }
      const created = editing === null;
      showPatientForm(record);
      patient.done.textContent = created
        ? "Patient added. His own key (shown this once): " + record.key
        : "Saved.";
      patient.done.hidden = false;
    } catch (error) {
      if (error.status !== 401) showError(patient.error, patientErrorText(error));
    } finally {
      patient.save.disabled = false;
    }
  });

  // ---- start --------------------------------------------------------------------------------

  els.refresh.addEventListener("click", () => refresh());
  els.status.addEventListener("change", () => refresh());
  els.priority.addEventListener("change", () => refresh());
  els.filters.addEventListener("submit", (event) => event.preventDefault());

  if (staffKey()) {
    showSignedIn(true);
    refresh();
  } else {
    showSignedIn(false);
  }
})();
