// Aftercare clinician workspace: documents and their lifecycle, conversations, the gaps report.
// Everything from the server is patient or staff text: set with textContent only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = "aftercare.staffKey";
  const body = document.body;

  const state = { me: null, documents: [], open: null, tab: "documents" };

  // ---- small helpers ------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  function when(iso) {
    if (!iso) return "never";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    return new Intl.DateTimeFormat("en-GB", {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).format(date);
  }

  function day(iso) {
    if (!iso) return "";
    const date = new Date(iso + "T00:00:00Z");
    if (Number.isNaN(date.getTime())) return String(iso);
    return new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" }).format(date);
  }

  function words(value) {
    return String(value || "").replace(/_/g, " ");
  }

  const canWrite = () => state.me && (state.me.role === "clinician" || state.me.role === "admin");

  // ---- the API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, data) {
      super(message);
      this.status = status;
      this.data = data || {};
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
      case 401: return "That key was not accepted";
      case 403: return "Your role cannot do this";
      case 404: return "That no longer exists";
      case 0: return "Cannot reach the server. Please try again.";
      default: return error.message || "The server could not do that (error " + error.status + ").";
    }
  }

  async function request(method, path, payload, raw) {
    const headers = { Authorization: "Bearer " + (staffKey() || "") };
    const init = { method, headers, cache: "no-store" };
    if (payload instanceof FormData) {
      init.body = payload;
    } else if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network");
    }
    if (!response.ok) {
      let data = {};
      try {
        data = await response.json();
      } catch (e) {
        data = {};
      }
      let detail = "";
      if (typeof data.detail === "string") detail = data.detail;
      else if (Array.isArray(data.detail)) detail = data.detail.map((d) => (d.field ? d.field + ": " : "") + d.message).join("; ");
      if (response.status === 401) signOut("That key was not accepted");
      throw new ApiError(response.status, detail, data);
    }
    return raw ? response : response.json();
  }

  // ---- signing in and out -------------------------------------------------------------------

  function signOut(reason) {
    try {
      sessionStorage.removeItem(KEY_STORE);
    } catch (e) {
      /* nothing stored */
    }
    state.me = null;
    body.dataset.signedIn = "false";
    body.dataset.role = "";
    $("sign-in").hidden = false;
    $("workspace").hidden = true;
    show($("sign-in-error"), reason || "");
    $("staff-key").value = "";
  }

  async function start() {
    state.me = await request("GET", "/v1/staff/me");
    body.dataset.signedIn = "true";
    body.dataset.role = state.me.role;
    $("sign-in").hidden = true;
    $("workspace").hidden = false;
    $("who").textContent = "Signed in as " + state.me.name + " (" + state.me.role + ")";
    $("read-only").hidden = canWrite();
    for (const node of document.querySelectorAll(".writer-only")) node.hidden = !canWrite();
    await loadDocuments();
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("staff-key").value.trim();
    if (!key) {
      show($("sign-in-error"), "Please enter your staff key.");
      return;
    }
    try {
      sessionStorage.setItem(KEY_STORE, key);
    } catch (e) {
      show($("sign-in-error"), "This browser does not allow the key to be kept for this tab.");
      return;
    }
    show($("sign-in-error"), "");
    try {
      await start();
    } catch (error) {
      if (error.status !== 401) signOut(errorText(error));
    }
  });

  $("sign-out").addEventListener("click", () => signOut(""));

  // ---- tabs ---------------------------------------------------------------------------------

  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      state.tab = tab.dataset.tab;
      for (const other of document.querySelectorAll(".tab")) {
        const on = other === tab;
        other.setAttribute("aria-pressed", on ? "true" : "false");
        $("tab-" + other.dataset.tab).hidden = !on;
      }
      if (state.tab === "conversations") loadTurns();
      if (state.tab === "documents") loadDocuments();
    });
  }

  // ---- documents ----------------------------------------------------------------------------

  async function loadDocuments() {
    try {
      state.documents = await request("GET", "/v1/documents");
    } catch (error) {
      if (error.status !== 401) show($("documents-error"), errorText(error));
      return;
    }
    show($("documents-error"), "");
    const rows = state.documents.map(documentRow);
    $("documents").tBodies[0].replaceChildren(...rows);
    const overdue = state.documents.filter((d) => d.overdue).length;
    show($("overdue-note"), overdue ? overdue + (overdue === 1 ? " document is" : " documents are") + " past its review date." : "");
    const select = $("turn-doc");
    const chosen = select.value;
    select.replaceChildren(el("option", "", "Any"));
    select.firstChild.value = "";
    for (const doc of state.documents) {
      const option = el("option", "", doc.title);
      option.value = doc.doc_id;
      select.append(option);
    }
    select.value = chosen;
  }

  function documentRow(doc) {
    const row = el("tr", doc.overdue ? "overdue" : "");
    row.dataset.id = doc.doc_id;
    row.dataset.status = doc.status;
    const titleCell = el("td");
    const open = el("button", "link-button", doc.title);
    open.type = "button";
    open.addEventListener("click", () => openDocument(doc.doc_id));
    titleCell.append(open);
    if (doc.draft_version && doc.status !== "draft") titleCell.append(el("span", "badge badge-status", "draft " + doc.draft_version));
    const status = el("td");
    status.append(el("span", "badge badge-" + doc.status, doc.status));
    const due = el("td", "review-due", day(doc.review_due));
    if (doc.overdue) due.append(el("span", "badge badge-urgent", "Overdue"));
    row.append(
      titleCell,
      status,
      el("td", "", doc.version || doc.draft_version || ""),
      el("td", "", doc.reviewed_by ? doc.reviewed_by + ", " + day(doc.reviewed_on) : ""),
      due,
      el("td", "chunks", doc.chunks),
      el("td", "", doc.last_indexed_at ? when(doc.last_indexed_at) : ""),
      el("td", "failure", doc.last_failure || ""),
    );
    return row;
  }

  async function openDocument(docId) {
    let detail;
    try {
      detail = await request("GET", "/v1/documents/" + encodeURIComponent(docId));
    } catch (error) {
      if (error.status !== 401) show($("documents-error"), errorText(error));
      return;
    }
    state.open = detail;
    const summary = detail.summary;
    const article = $("document");
    article.hidden = false;
    article.dataset.id = summary.doc_id;
    article.dataset.status = summary.status;
    $("document-title").textContent = summary.title;
    const facts = $("document-facts");
    facts.replaceChildren();
    const add = (term, value) => {
      if (value === null || value === undefined || value === "") return;
      facts.append(el("dt", "", term), el("dd", "", value));
    };
    add("Id", summary.doc_id);
    add("Status", summary.status + (summary.overdue ? " (past its review date)" : ""));
    add("Version", summary.version);
    add("Approved by", summary.reviewed_by);
    add("Review due", day(summary.review_due));
    add("In the index", summary.chunks + " chunks" + (summary.last_indexed_at ? ", indexed " + when(summary.last_indexed_at) : ""));
    add("Last failure", summary.last_failure);
    $("document-text").textContent = detail.rendered || "(no approved text yet)";
    $("document-sections").replaceChildren(
      ...detail.sections.map((s) => {
        const li = el("li");
        li.append(el("p", "passage-meta", s.section || "(no heading)"), el("p", "passage-excerpt", s.text));
        return li;
      }),
    );
    renderHistory(detail);
    renderDraft(detail);
    show($("document-error"), "");
    show($("document-done"), "");
    $("preview-result").hidden = true;
    article.scrollIntoView({ block: "start" });
  }

  function renderHistory(detail) {
    const served = detail.answers_by_version || {};
    const rows = detail.history.map((event, index) => {
      const row = el("tr");
      const change = el("td");
      const previous = detail.history.slice(index + 1).find((e) => e.action === "approved");
      if (event.action === "approved" && previous) {
        const button = el("button", "link-button", "Compare with " + previous.version);
        button.type = "button";
        button.addEventListener("click", () => showDiff(previous.version, event.version));
        change.append(button);
      }
      row.append(
        el("td", "", event.version),
        el("td", "", event.action + (event.before_version && event.action === "approved" ? " (was " + event.before_version + ")" : "")),
        el("td", "", event.actor_name),
        el("td", "", when(event.at)),
        el("td", "answers-served", served[event.version] || 0),
        change,
      );
      return row;
    });
    const versions = new Set(detail.history.map((e) => e.version));
    for (const [version, count] of Object.entries(served)) {
      if (versions.has(version)) continue;
      const row = el("tr");
      row.append(el("td", "", version), el("td", "", "approved before the workspace"), el("td"), el("td"), el("td", "answers-served", count), el("td"));
      rows.push(row);
    }
    $("document-history").tBodies[0].replaceChildren(...rows);
    $("document-diff").hidden = true;
  }

  async function showDiff(oldVersion, newVersion) {
    const docId = state.open.summary.doc_id;
    try {
      const diff = await request("GET", "/v1/documents/" + encodeURIComponent(docId) + "/diff?old=" + encodeURIComponent(oldVersion) + "&new=" + encodeURIComponent(newVersion));
      const pre = $("document-diff");
      pre.replaceChildren(
        ...diff.diff.split("\n").map((line) => el("span", line.startsWith("+") ? "added" : line.startsWith("-") ? "removed" : "", line + "\n")),
      );
      pre.hidden = false;
    } catch (error) {
      if (error.status !== 401) show($("document-error"), errorText(error));
    }
  }

  function splitText(text) {
    const match = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text || "");
    return match ? (text || "").slice(match[0].length) : text || "";
  }

  function renderDraft(detail) {
    const draft = detail.draft;
    const summary = detail.summary;
    const meta = draft ? draft.meta : detail.meta;
    const source = draft ? draft : { kind: summary.kind, text: detail.text, revision: detail.revision };
    state.base = source.revision;
    $("draft-panel").open = Boolean(draft);
    $("draft-state").textContent = draft
      ? "Draft version " + draft.version + ", saved by " + draft.saved_by + " " + when(draft.saved_at) + "."
      : "No draft. Edit below to start one from the approved text.";
    $("draft-title").value = meta.title || "";
    $("draft-version").value = draft ? draft.version : "";
    $("draft-sources").value = (meta.sources || []).join("\n");
    const isPdf = source.kind === "pdf";
    $("draft-body").value = isPdf ? "(A PDF: its text comes from the file. Upload a new version to change it.)" : splitText(source.text);
    $("draft-body").readOnly = isPdf || !canWrite();
    $("conflict").hidden = true;
    $("preview-panel").hidden = !draft;
    $("approve").hidden = !draft || !canWrite();
    $("approve").textContent = draft ? "Approve version " + draft.version : "Approve";
    $("retire").hidden = summary.status !== "approved" || !canWrite();
  }

  $("document-close").addEventListener("click", () => {
    $("document").hidden = true;
    state.open = null;
  });

  $("draft-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const detail = state.open;
    if (!detail) return;
    const meta = Object.assign({}, detail.draft ? detail.draft.meta : detail.meta);
    meta.title = $("draft-title").value.trim();
    meta.version = $("draft-version").value.trim();
    meta.sources = $("draft-sources").value.split("\n").map((s) => s.trim()).filter(Boolean);
    delete meta.reviewed_by;
    delete meta.reviewed_on;
    delete meta.review_due;
    try {
      await request("PUT", "/v1/documents/" + encodeURIComponent(detail.summary.doc_id) + "/draft", {
        base_revision: state.base,
        front_matter: meta,
        body: $("draft-body").value,
      });
      await openDocument(detail.summary.doc_id);
      show($("document-done"), "Draft saved.");
      await loadDocuments();
    } catch (error) {
      if (error.status === 409) {
        $("conflict").hidden = false;
        $("conflict-text").textContent = error.message;
        $("conflict-theirs").textContent = error.data.theirs || "";
        $("conflict-yours").textContent = error.data.yours || "";
      } else if (error.status !== 401) {
        show($("document-error"), errorText(error));
      }
    }
  });

  $("conflict-reload").addEventListener("click", () => {
    if (state.open) openDocument(state.open.summary.doc_id);
  });

  async function upload(form, file, replaces) {
    if (!file) throw new ApiError(422, "Please choose a file.");
    form.append("file", file);
    if (replaces) {
      form.append("replaces", replaces);
      if (state.base) form.append("base_revision", state.base);
    }
    return request("POST", "/v1/documents", form);
  }

  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData();
    for (const name of ["id", "title", "version", "sources"]) {
      const value = $("upload-" + name).value.trim();
      if (value) form.append(name, value);
    }
    show($("upload-error"), "");
    show($("upload-done"), "");
    try {
      const saved = await upload(form, $("upload-file").files[0], null);
      show($("upload-done"), "Saved as a draft: " + saved.id + ", version " + saved.version + ".");
      $("upload-form").reset();
      await loadDocuments();
      await openDocument(saved.id);
    } catch (error) {
      if (error.status !== 401) show($("upload-error"), errorText(error));
    }
  });

  $("new-version-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const detail = state.open;
    if (!detail) return;
    const form = new FormData();
    const meta = detail.draft ? detail.draft.meta : detail.meta;
    const version = $("new-version-version").value.trim();
    for (const name of ["id", "title"]) if (meta[name]) form.append(name, meta[name]);
    if (meta.sources) form.append("sources", meta.sources.join("\n"));
    if (version) form.append("version", version);
    try {
      await upload(form, $("new-version-file").files[0], detail.summary.doc_id);
      await openDocument(detail.summary.doc_id);
      show($("document-done"), "New version saved as a draft.");
    } catch (error) {
      if (error.status !== 401) show($("document-error"), errorText(error));
    }
  });

  function answerCard(answer) {
    const card = el("div", "answer-card");
    card.dataset.outcome = answer.outcome;
    const confidence = answer.confidence === null ? "n/a" : answer.confidence.toFixed(2);
    card.append(el("p", "outcome", words(answer.outcome) + ", confidence " + confidence));
    card.append(el("p", "answer-text", answer.answer));
    const list = el("ul", "source-list");
    for (const s of answer.sources) {
      list.append(el("li", "source", s.title + " (version " + s.version + ")" + (s.section ? ": " + s.section : "") + ", score " + s.score.toFixed(2)));
    }
    card.append(list);
    return card;
  }

  $("preview-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = $("preview-question").value.trim();
    if (!question || !state.open) return;
    show($("document-error"), "");
    try {
      const result = await request("POST", "/v1/documents/" + encodeURIComponent(state.open.summary.doc_id) + "/preview", { question, compare: true });
      $("preview-draft").replaceChildren(answerCard(result));
      $("preview-current").replaceChildren(answerCard(result.current));
      $("preview-result").hidden = false;
    } catch (error) {
      if (error.status !== 401) show($("document-error"), errorText(error));
    }
  });

  async function act(path, payload, done) {
    const docId = state.open.summary.doc_id;
    show($("document-error"), "");
    show($("document-done"), "");
    try {
      const result = await request("POST", "/v1/documents/" + encodeURIComponent(docId) + path, payload);
      await loadDocuments();
      await openDocument(docId);
      show($("document-done"), done(result));
    } catch (error) {
      if (error.status !== 401) show($("document-error"), errorText(error));
    }
  }

  $("approve").addEventListener("click", () => {
    const draft = state.open && state.open.draft;
    if (!draft) return;
    act("/approve", { version: draft.version }, (r) =>
      "Approved version " + r.version + ": " + r.chunks + " chunks now in the index; review due " + day(r.review_due) + "." +
      (r.before_version ? " Version " + r.before_version + " served " + r.answers_served + " answers." : ""));
  });

  $("retire").addEventListener("click", () => {
    act("/retire", undefined, (r) => "Retired version " + r.version + ": it no longer answers patients. It served " + r.answers_served + " answers.");
  });

  // ---- conversations ------------------------------------------------------------------------

  async function loadTurns() {
    const params = new URLSearchParams({ limit: "100" });
    if ($("turn-outcome").value) params.set("outcome", $("turn-outcome").value);
    if ($("turn-doc").value) params.set("doc_id", $("turn-doc").value);
    if ($("turn-band").value) {
      const [low, high] = $("turn-band").value.split("-");
      params.set("min_confidence", low);
      params.set("max_confidence", high);
    }
    if ($("turn-since").value) params.set("since", $("turn-since").value + "T00:00:00Z");
    if ($("turn-until").value) params.set("until", $("turn-until").value + "T23:59:59Z");
    let turns;
    try {
      turns = await request("GET", "/v1/turns?" + params.toString());
    } catch (error) {
      if (error.status !== 401) show($("turns-error"), errorText(error));
      return;
    }
    show($("turns-error"), "");
    $("turns-empty").hidden = turns.length > 0;
    $("turns").replaceChildren(...turns.map(turnCard));
  }

  function turnCard(turn) {
    const li = el("li", "escalation turn-review");
    li.dataset.id = turn.id;
    li.dataset.outcome = turn.outcome;
    const head = el("div", "escalation-head");
    head.append(el("span", "badge badge-status", words(turn.outcome)), el("span", "updated", when(turn.at) + " via " + turn.channel));
    const confidence = turn.confidence === null ? "n/a" : turn.confidence.toFixed(2);
    li.append(head, el("p", "patient-question", turn.question), el("p", "answer-text", turn.answer));
    const facts = el("p", "hint", "Confidence " + confidence + (turn.escalation_id ? "; a call was booked" : "") + "; answered in " + Math.round(turn.timings_ms.total || 0) + " ms");
    li.append(facts);
    if (turn.sources.length) {
      const list = el("ul", "source-list");
      for (const s of turn.sources) list.append(el("li", "source", s.doc_id + " version " + s.version + (s.section ? ", " + s.section : "") + " (" + s.score.toFixed(2) + ")"));
      li.append(list);
    }
    const marks = el("ul", "marks");
    for (const m of turn.marks) marks.append(el("li", "mark", "Marked " + words(m.kind) + (m.note ? ": " + m.note : "")));
    li.append(marks);
    if (canWrite()) {
      const form = el("form", "mark-form");
      const noteId = "note-" + turn.id;
      const label = el("label", "", "Note for a mark");
      label.htmlFor = noteId;
      const note = el("input");
      note.type = "text";
      note.id = noteId;
      note.maxLength = 4000;
      const row = el("div", "button-row");
      for (const [kind, text] of [["wrong", "Mark wrong"], ["should_have_answered", "Should have answered"]]) {
        const button = el("button", "button", text);
        button.type = "button";
        button.addEventListener("click", async () => {
          try {
            const updated = await request("POST", "/v1/turns/" + encodeURIComponent(turn.id) + "/marks", { kind, note: note.value.trim() });
            li.replaceWith(turnCard(updated));
          } catch (error) {
            if (error.status !== 401) show($("turns-error"), errorText(error));
          }
        });
        row.append(button);
      }
      form.append(label, note, row);
      li.append(form);
    }
    return li;
  }

  $("turn-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    loadTurns();
  });

  // ---- the gaps report ----------------------------------------------------------------------

  $("gaps-load").addEventListener("click", async () => {
    let report;
    show($("gaps-error"), "");
    $("gaps-summary").textContent = "Building the report…";
    try {
      report = await request("GET", "/v1/reports/gaps");
    } catch (error) {
      $("gaps-summary").textContent = "";
      if (error.status !== 401) show($("gaps-error"), errorText(error));
      return;
    }
    $("gaps-summary").textContent = report.questions + " questions in " + report.groups.length + " groups.";
    $("gaps").replaceChildren(
      ...report.groups.map((group) => {
        const li = el("li", "escalation gap-group");
        li.dataset.size = group.size;
        const head = el("div", "escalation-head");
        head.append(el("h3", "", group.size + (group.size === 1 ? " question" : " questions")), el("span", "badge badge-routine", group.nurse_calls + (group.nurse_calls === 1 ? " nurse call booked" : " nurse calls booked")));
        li.append(head);
        if (group.marked) li.append(el("p", "hint", group.marked + " marked by clinicians"));
        const examples = el("ul", "examples");
        for (const example of group.examples) examples.append(el("li", "patient-question", example));
        li.append(examples);
        li.append(el("p", "hint", group.closest_doc_id
          ? "Closest guide: " + group.closest_title + (group.closest_section ? " > " + group.closest_section : "") + " (score " + group.closest_score.toFixed(2) + ")"
          : "No guide comes close."));
        return li;
      }),
    );
  });

  $("gaps-csv").addEventListener("click", async () => {
    try {
      const response = await request("GET", "/v1/reports/gaps?format=csv", undefined, true);
      const blob = await response.blob();
      const link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = "aftercare-gaps.csv";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    } catch (error) {
      if (error.status !== 401) show($("gaps-error"), errorText(error));
    }
  });

  // ---- start ----------------------------------------------------------------------------------

  window.aftercareClinician = { reloadDocuments: loadDocuments };
  if (staffKey()) {
    start().catch((error) => {
      if (error.status !== 401) signOut(errorText(error));
    });
  }
})();
