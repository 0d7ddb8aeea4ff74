// Aftercare patient page: a voice conversation over WS /v1/voice.
// Server text is always set with textContent, never parsed as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  const els = {
    body: document.body,
    clinicName: $("clinic-name"),
    safetyText: $("safety-text"),
    emergencyNumber: $("emergency-number"),
    contacts: $("contacts"),
    connection: $("connection"),
    connectionText: $("connection-text"),
    reconnect: $("reconnect"),
    avatar: $("avatar"),
    avatarFrame: $("avatar-frame"),
    avatarText: $("avatar-text"),
    avatarRestart: $("avatar-restart"),
    emptyHint: $("empty-hint"),
    conversation: $("conversation"),
    form: $("ask-form"),
    question: $("question"),
    askError: $("ask-error"),
    stop: $("stop"),
    voiceControls: $("voice-controls"),
    talk: $("talk"),
    handsFree: $("hands-free"),
    voiceStatus: $("voice-status"),
    voiceUnavailable: $("voice-unavailable"),
    mute: $("mute"),
  };

  // ---- identity: read once, then removed from the address bar ----------------------------

  const identity = readIdentity();

  function readIdentity() {
    const params = new URLSearchParams(window.location.search);
    let patientId = params.get("patient_id");
    let key = params.get("key");
    const code = params.get("code");
    const storeKey = "aftercare.patient";
    if (code) {
      // A one-time link: traded for a session token by POST when the page starts.
      params.delete("code");
      const rest = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
      return { patientId: null, key: null, code, storeKey };
    }
    if (patientId) {
      try {
        sessionStorage.setItem(storeKey, JSON.stringify({ patientId, key }));
      } catch (e) {
        /* storage can be disabled; identity then lasts for this page only */
      }
      params.delete("patient_id");
      params.delete("key");
      const rest = params.toString();
      const clean = window.location.pathname + (rest ? "?" + rest : "") + window.location.hash;
      window.history.replaceState(null, "", clean);
    } else {
      try {
        const saved = JSON.parse(sessionStorage.getItem(storeKey) || "null");
        if (saved && saved.patientId) {
          patientId = saved.patientId;
          key = saved.key;
        }
      } catch (e) {
        /* nothing saved */
      }
    }
    return { patientId: patientId || null, key: key || null, code: null, storeKey };
  }

  async function redeemLink() {
    if (!identity.code) return;
    const code = identity.code;
    identity.code = null;
    try {
      const response = await fetch("/v1/session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code }),
      });
      if (!response.ok) {
        showAskError("This link has already been used or has expired. Ask your care team for a new one.");
        return;
      }
      const session = await response.json();
      identity.patientId = session.patient_id;
      identity.key = session.token;
      try {
        sessionStorage.setItem(identity.storeKey, JSON.stringify({ patientId: identity.patientId, key: identity.key }));
      } catch (e) {
        /* storage can be disabled */
      }
    } catch (e) {
      /* offline: the page stays anonymous */
    }
  }

  // ---- clinic contacts ----------------------------------------------------------------------

  const clinic = {
    name: null,
    emergency_number: "999",
    on_call_phone: null,
    on_call_name: null,
    nurse_line_phone: null,
    nurse_line_hours: null,
    crisis_line_name: null,
    crisis_line_phone: null,
  };

  async function loadClinic() {
    try {
      const response = await fetch("/v1/clinic", { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      for (const field of Object.keys(clinic)) {
        if (typeof data[field] === "string" && data[field].trim()) clinic[field] = data[field];
      }
    } catch (e) {
      return;
    }
    showClinic();
  }

  function telLink(number, label) {
    const link = document.createElement("a");
    link.href = "tel:" + number.replace(/[^0-9+]/g, "");
    link.textContent = label || number;
    return link;
  }

  function showClinic() {
    if (clinic.name) els.clinicName.textContent = clinic.name;
    els.emergencyNumber.textContent = clinic.emergency_number;
    els.contacts.replaceChildren();
    const add = (parts) => {
      const item = document.createElement("li");
      for (const part of parts) item.append(part);
      els.contacts.append(item);
    };
    if (clinic.nurse_line_phone) {
      const hours = clinic.nurse_line_hours ? " (" + clinic.nurse_line_hours + ")" : "";
      add(["Nurse line: ", telLink(clinic.nurse_line_phone), hours]);
    }
    if (clinic.on_call_phone) {
      const who = clinic.on_call_name ? " (" + clinic.on_call_name + ")" : "";
      add(["Out of hours: ", telLink(clinic.on_call_phone), who]);
    }
    if (clinic.crisis_line_phone) {
      const name = clinic.crisis_line_name ? clinic.crisis_line_name + ", " : "";
      add(["If you feel low or unsafe: " + name, telLink(clinic.crisis_line_phone)]);
    }
    els.contacts.hidden = els.contacts.childElementCount === 0;
  }

  // ---- conversation rendering ---------------------------------------------------------------

  const turnsById = new Map(); // turn_id -> entry, kept so a late escalation finds its turn
  let current = null; // the entry whose events are shown: {li, text, turnId, state}

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function newEntry(text) {
    els.emptyHint.hidden = true;
    const li = el("li", "turn");
    const question = el("div", "turn-question");
    question.append(el("p", "speaker", "You asked"), el("p", "question-text", text));
    const answer = el("div", "turn-answer");
    const answerText = el("p", "answer-text");
    answer.append(el("p", "speaker", "Aftercare"), answerText);
    const status = el("p", "turn-status");
    const extras = el("div", "turn-extras");
    li.append(question, answer, status, extras);
    els.conversation.append(li);
    const entry = { li, text: text.trim(), turnId: null, answerText, status, extras, sentences: 0 };
    setState(entry, "waiting", "Finding an answer\u2026");
    return entry;
  }

  function setState(entry, state, statusText) {
    entry.state = state;
    entry.li.dataset.state = state;
    entry.status.textContent = statusText || "";
    entry.status.hidden = !statusText;
    updateStopButton();
  }

  function addSentence(entry, text) {
    if (entry.sentences > 0) entry.answerText.append(" ");
    entry.answerText.append(el("span", "sentence", text));
    entry.sentences += 1;
    if (entry.state === "waiting") setState(entry, "answering", "");
    scrollIntoViewGently(entry.li);
  }

  function scrollIntoViewGently(node) {
    const rect = node.getBoundingClientRect();
    if (rect.bottom > window.innerHeight) node.scrollIntoView({ block: "end", behavior: "smooth" });
  }

  function showSources(entry, sources) {
    if (!Array.isArray(sources) || sources.length === 0) return;
    const box = el("section", "sources");
    box.append(el("h3", null, "From these guides"));
    const list = el("ul", "source-list");
    const seen = new Set();
    for (const source of sources) {
      const id = String(source.doc_id) + "\u0000" + String(source.section);
      if (seen.has(id)) continue;
      seen.add(id);
      const card = el("li", "source-card");
      card.append(el("p", "source-title", source.title || "Approved guide"));
      if (source.section) card.append(el("p", "source-section", source.section));
      list.append(card);
    }
    box.append(list);
    entry.extras.append(box);
  }

  function showRedFlag(entry, priority) {
    const emergency = priority === "emergency";
    const panel = el("div", "red-flag " + (emergency ? "red-flag-emergency" : "red-flag-urgent"));
    panel.setAttribute("role", "alert");
    panel.dataset.priority = emergency ? "emergency" : "urgent";
    if (emergency) {
      panel.append(el("h3", null, "This could be an emergency"));
      const call = el("p", "red-flag-action");
      call.append("Call ", el("strong", null, clinic.emergency_number), " now.");
      panel.append(call);
    } else {
      panel.append(el("h3", null, "Please contact your care team today"));
      const call = el("p", "red-flag-action");
      if (clinic.on_call_phone) {
        call.append("Call ", telLink(clinic.on_call_phone), clinic.on_call_name ? " (" + clinic.on_call_name + ")." : ".");
      } else {
        call.append("Call your care team's number now.");
      }
      panel.append(call);
      panel.append(el("p", null, "If you feel very unwell, call " + clinic.emergency_number + "."));
    }
    entry.extras.prepend(panel);
  }

  const STATUS_WORDS = {
    open: "Your care team has been told",
    acknowledged: "A care coordinator is looking at this",
    booked: "An appointment is booked",
    resolved: "Your care team has dealt with this",
    cancelled: "This request was closed",
  };

  const REASON_WORDS = {
    low_confidence: "Aftercare could not find a clear answer in your guides, so it has asked a person to help.",
    red_flag: "Aftercare has told your care team about what you described.",
    patient_request: "You asked to speak to a person. Your care team has been told.",
  };

  function formatWhen(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    const parts = {};
    const format = new Intl.DateTimeFormat("en-GB", {
      weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    for (const part of format.formatToParts(date)) parts[part.type] = part.value;
    return parts.weekday + " " + parts.day + " " + parts.month + ", " + parts.hour + ":" + parts.minute;
  }

  function showEscalation(entry, escalation) {
    if (!escalation || typeof escalation !== "object") return;
    const host = entry ? entry.extras : standaloneHost();
    const previous = host.querySelector(".escalation-card");
    if (previous) previous.remove();
    const card = el("section", "escalation-card");
    card.dataset.status = String(escalation.status || "");
    card.append(el("h3", null, "A person from your care team will help"));
    const reason = REASON_WORDS[escalation.reason];
    if (reason) card.append(el("p", null, reason));
    const appointment = escalation.appointment;
    if (appointment && appointment.start) {
      const who = appointment.with ? "Your call with " + appointment.with : "Your call";
      card.append(el("p", "appointment", who + ": " + formatWhen(appointment.start)));
    } else {
      card.append(el("p", "appointment", "A care coordinator will contact you to arrange a time."));
    }
    const words = STATUS_WORDS[escalation.status] || String(escalation.status || "").replace(/_/g, " ");
    if (words) card.append(el("p", "escalation-status", "Status: " + words));
    host.append(card);
  }

  function standaloneHost() {
    els.emptyHint.hidden = true;
    const li = el("li", "turn turn-notice");
    const extras = el("div", "turn-extras");
    li.append(extras);
    els.conversation.append(li);
    return extras;
  }

  function showError(entry, code, message) {
    const text = errorWords(code, message);
    if (entry && entry.state !== "done" && entry.state !== "stopped") {
      setState(entry, "failed", text);
    } else {
      showAskError(text);
    }
  }

  function errorWords(code, message) {
    switch (code) {
      case "not_ready":
        return "Aftercare is still getting ready. It will try again in a moment.";
      case "not_authenticated":
        return "Aftercare could not confirm who you are. Please open the link your care team sent you again.";
      case "too_long":
        return "That question is too long. Please ask it in a shorter way.";
      case "empty_transcript":
        return "Aftercare did not hear a question. Please try again.";
      default:
        return "Sorry, something went wrong" + (message ? ": " + message : ".") + " Please try again.";
    }
  }

  function showAskError(text) {
    els.askError.textContent = text;
    els.askError.hidden = !text;
  }

  // ---- voice output -------------------------------------------------------------------------

  const synth = "speechSynthesis" in window ? window.speechSynthesis : null;
  let avatarSpeaks = false; // true while a vendor's video room speaks the answers
  let pendingUtterances = 0;

  function pickVoice() {
    if (!synth) return null;
    const voices = synth.getVoices();
    return voices.find((v) => v.lang === "en-GB") || voices.find((v) => v.lang && v.lang.startsWith("en")) || null;
  }

  function speak(text) {
    if (!synth || els.mute.checked || avatarSpeaks) return;
    const utterance = new SpeechSynthesisUtterance(text);
    const voice = pickVoice();
    if (voice) utterance.voice = voice;
    utterance.lang = "en-GB";
    utterance.rate = 0.95;
    pendingUtterances += 1;
    pauseListeningForSpeech();
    const done = () => {
      pendingUtterances = Math.max(0, pendingUtterances - 1);
      if (pendingUtterances === 0) resumeListeningAfterSpeech();
      updateStopButton();
    };
    utterance.onend = done;
    utterance.onerror = done;
    synth.speak(utterance);
    updateStopButton();
  }

  function silence() {
    if (synth) synth.cancel();
    pendingUtterances = 0;
    resumeListeningAfterSpeech();
    updateStopButton();
  }

  // ---- the socket ---------------------------------------------------------------------------

  let socket = null;
  let connected = false;
  let everConnected = false;
  let retryDelay = 1000;
  let retryTimer = null;
  let countdownTimer = null;
  let queued = null; // a question typed while the socket was down

  function socketUrl() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    // The key never goes in the address: it is the first message (see ws.onopen).
    const params = new URLSearchParams();
    if (identity.patientId) params.set("patient_id", identity.patientId);
    if (avatarSessionId) params.set("avatar_session", avatarSessionId);
    const query = params.toString();
    return scheme + "//" + window.location.host + "/v1/voice" + (query ? "?" + query : "");
  }

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(countdownTimer);
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    setConnection("connecting");
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      if (identity.patientId) {
        ws.send(JSON.stringify({ type: "session.start", patient_id: identity.patientId, key: identity.key }));
      }
    };
    ws.onmessage = (event) => {
      if (ws !== socket) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (message && typeof message.type === "string") handleEvent(message);
    };
    ws.onclose = (event) => {
      if (ws !== socket) return;
      connected = false;
      socket = null;
      if (current && (current.state === "waiting" || current.state === "answering")) {
        setState(current, "failed", "The connection dropped before the answer finished. Please ask again.");
        current = null;
      }
      if (event.code === 4401) {
        setConnection("refused");
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    setConnection("down");
    let remaining = Math.round(retryDelay / 1000);
    const say = () => {
      els.connectionText.textContent = (everConnected ? "The voice connection was lost. " : "Aftercare cannot connect yet. ")
        + "Trying again in " + remaining + (remaining === 1 ? " second." : " seconds.");
    };
    say();
    clearInterval(countdownTimer);
    countdownTimer = setInterval(() => {
      remaining = Math.max(0, remaining - 1);
      say();
    }, 1000);
    retryTimer = setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function setConnection(state) {
    els.body.dataset.connection = state;
    if (state === "open") {
      els.connection.hidden = true;
      return;
    }
    if (state === "connecting") {
      if (everConnected) {
        els.connection.hidden = false;
        els.connectionText.textContent = "Connecting again\u2026";
      }
      return;
    }
    els.connection.hidden = false;
    if (state === "refused") {
      els.connectionText.textContent =
        "Aftercare could not confirm who you are. Please open the link your care team sent you again.";
    }
  }

  // A new avatar session is bound when the socket opens: open a fresh one without alarming anyone.
  function reconnectQuietly() {
    const old = socket;
    socket = null;
    connected = false;
    if (current && (current.state === "waiting" || current.state === "answering")) {
      setState(current, "stopped", "Stopped while the video restarted. Please ask again.");
      current = null;
    }
    if (old) old.close(1000);
    retryDelay = 1000;
    connect();
  }

  function send(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  // ---- events from the server ---------------------------------------------------------------

  function handleEvent(message) {
    switch (message.type) {
      case "session.ready":
        connected = true;
        everConnected = true;
        retryDelay = 1000;
        clearInterval(countdownTimer);
        setConnection("open");
        showAskError("");
        if (message.avatar) {
          showAvatar(message.avatar);
        } else if (avatarSessionId) {
          avatarSessionId = null; // the server no longer knows that session
          showAvatar(null);
        }
        if (queued !== null) {
          const pending = queued;
          queued = null;
          send({ type: "user_transcript", text: pending, final: true });
        }
        return;
      case "turn.started":
        if (current && current.turnId === null && current.state === "waiting"
            && String(message.text || "").trim() === current.text) {
          current.turnId = message.turn_id;
          turnsById.set(message.turn_id, current);
        }
        return;
      case "turn.escalation": {
        const entry = turnsById.get(message.turn_id) || null;
        showEscalation(entry, message.escalation);
        return;
      }
      case "error":
        showError(current, message.code, message.message);
        return;
      case "avatar.degraded":
        avatarDegraded(message.message);
        return;
      case "avatar.dropped":
        avatarDropped();
        return;
      default:
        break;
    }
    if (!current || !message.turn_id || message.turn_id !== current.turnId) return;
    const entry = current;
    switch (message.type) {
      case "speech.sentence":
        addSentence(entry, String(message.text || ""));
        speak(String(message.text || ""));
        break;
      case "turn.sources":
        showSources(entry, message.sources);
        break;
      case "turn.red_flag":
        showRedFlag(entry, message.priority);
        break;
      case "turn.completed":
        entry.li.dataset.outcome = String(message.outcome || "");
        setState(entry, "done", "");
        current = null;
        break;
      case "turn.cancelled":
        setState(entry, "stopped", "Stopped");
        current = null;
        break;
      default:
        break;
    }
  }

  // ---- asking and stopping ------------------------------------------------------------------

  function ask(rawText) {
    const text = String(rawText || "").trim();
    showAskError("");
    if (!text) {
      showAskError("Please type a question first.");
      return false;
    }
    interruptLocally("Stopped: you asked something new");
    current = newEntry(text);
    if (!send({ type: "user_transcript", text, final: true })) {
      queued = text;
      setState(current, "waiting", "Waiting for the connection\u2026");
      if (!retryTimer || !socket) connect();
    }
    return true;
  }

  // Marks the turn in flight as stopped and silences it; the server drops its remaining sentences.
  function interruptLocally(statusText) {
    silence();
    if (current && (current.state === "waiting" || current.state === "answering")) {
      setState(current, "stopped", statusText);
    }
    current = null;
    queued = null;
  }

  function stop() {
    const busy = current && (current.state === "waiting" || current.state === "answering");
    interruptLocally("Stopped");
    if (busy) send({ type: "interrupt" });
    updateStopButton();
  }

  function updateStopButton() {
    const busy = current && (current.state === "waiting" || current.state === "answering");
    els.stop.disabled = !(busy || pendingUtterances > 0);
  }

  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (ask(els.question.value)) els.question.value = "";
  });

  els.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      els.form.requestSubmit();
    }
  });

  els.stop.addEventListener("click", () => {
    stop();
    els.question.focus();
  });

  els.mute.addEventListener("change", () => {
    if (els.mute.checked) silence();
  });

  els.reconnect.addEventListener("click", () => {
    retryDelay = 1000;
    connect();
  });

  // ---- avatar -------------------------------------------------------------------------------
  // The page asks for an avatar session first; the voice socket then names it so the server
  // can send sentences to the vendor. With no vendor (or a failing one) the browser speaks.

  let avatarSessionId = null;

  function httpsUrl(value) {
    try {
      const url = new URL(String(value));
      return url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  async function requestAvatarSession() {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (identity.key) headers.Authorization = "Bearer " + identity.key;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10000);
    try {
      const response = await fetch("/v1/avatar/session", {
        method: "POST",
        headers,
        body: JSON.stringify({ patient_id: identity.patientId }),
        signal: abort.signal,
      });
      if (!response.ok) return { avatar: null, message: null };
      const data = await response.json();
      const avatar = data && typeof data.avatar === "object" ? data.avatar : null;
      return { avatar, message: typeof data.message === "string" ? data.message : null };
    } catch (e) {
      return { avatar: null, message: null };
    } finally {
      clearTimeout(timer);
    }
  }

  function closeAvatarSession() {
    if (!avatarSessionId) return;
    const id = avatarSessionId;
    avatarSessionId = null;
    const headers = {};
    if (identity.key) headers.Authorization = "Bearer " + identity.key;
    const query = identity.patientId ? "?patient_id=" + encodeURIComponent(identity.patientId) : "";
    fetch("/v1/avatar/session/" + encodeURIComponent(id) + query, {
      method: "DELETE",
      headers,
      keepalive: true,
    }).catch(() => undefined);
  }

  function showAvatar(info) {
    leaveLivekit();
    els.avatarFrame.replaceChildren();
    els.avatarRestart.hidden = true;
    avatarSpeaks = false;
    if (!info || typeof info !== "object") {
      els.avatar.hidden = true;
      return;
    }
    const client = info.client && typeof info.client === "object" ? info.client : {};
    els.avatar.hidden = false;
    const roomUrl = httpsUrl(client.conversation_url);
    if (roomUrl) {
      const frame = document.createElement("iframe");
      frame.src = roomUrl;
      frame.title = "Video of your Aftercare assistant";
      frame.allow = "camera; microphone; autoplay";
      frame.referrerPolicy = "no-referrer";
      frame.className = "avatar-video";
      els.avatarFrame.append(frame);
      avatarSpeaks = info.speaks_itself === true;
      if (avatarSpeaks) silence();
      showAvatarText("");
      return;
    }
    const livekitUrl = client.transport === "livekit" ? secureSocketUrl(client.livekit_url) : null;
    if (livekitUrl && typeof client.access_token === "string" && client.access_token) {
      joinLivekit(livekitUrl, client.access_token, info.speaks_itself === true);
      return;
    }
    showAvatarText("The video is not available on this page. Answers are shown here and read aloud.");
  }

  // ---- LiveKit rooms (HeyGen, LiveAvatar) ----------------------------------------------------
  // The LiveKit browser client is vendored with this page (/static/livekit-client.umd.js) and
  // loaded only when a room is joined. Until the avatar's video plays, and whenever the room
  // fails, the browser keeps speaking the answers itself.

  const LIVEKIT_CONNECT_MS = 15000;
  let livekitRoom = null;
  let livekitLoading = null;

  function secureSocketUrl(value) {
    try {
      const url = new URL(String(value));
      return url.protocol === "wss:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function loadLivekit() {
    if (window.LivekitClient) return Promise.resolve(window.LivekitClient);
    if (!livekitLoading) {
      livekitLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = "/static/livekit-client.umd.js";
        script.async = true;
        script.onload = () => (window.LivekitClient ? resolve(window.LivekitClient) : reject(new Error("no client")));
        script.onerror = () => reject(new Error("the video client did not load"));
        document.head.append(script);
      }).catch((error) => {
        livekitLoading = null;
        throw error;
      });
    }
    return livekitLoading;
  }

  function leaveLivekit() {
    const room = livekitRoom;
    livekitRoom = null;
    if (room) room.disconnect().catch(() => undefined);
  }

  function livekitFailed() {
    leaveLivekit();
    avatarSpeaks = false;
    els.avatarFrame.replaceChildren();
    els.avatar.dataset.video = "failed";
    showAvatarText("The video could not connect. Your answers are shown here and read aloud.");
  }

  async function joinLivekit(url, token, speaksItself) {
    leaveLivekit();
    els.avatar.dataset.video = "connecting";
    showAvatarText("Connecting the video\u2026");
    const video = document.createElement("video");
    video.className = "avatar-video";
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute("aria-label", "Video of your Aftercare assistant");
    els.avatarFrame.replaceChildren(video);
    let LK;
    try {
      LK = await loadLivekit();
    } catch (e) {
      livekitFailed();
      return;
    }
    const room = new LK.Room({ adaptiveStream: true });
    livekitRoom = room;
    room.on(LK.RoomEvent.TrackSubscribed, (track) => {
      if (room !== livekitRoom) return;
      if (track.kind === LK.Track.Kind.Video) {
        track.attach(video);
        els.avatar.dataset.video = "playing";
        showAvatarText("");
      } else if (track.kind === LK.Track.Kind.Audio) {
        const audio = track.attach();
        audio.hidden = true;
        els.avatarFrame.append(audio);
        // The avatar's own voice is heard now: the browser stops reading aloud.
        avatarSpeaks = speaksItself;
        if (avatarSpeaks) silence();
      }
    });
    let joined = false;
    room.on(LK.RoomEvent.Disconnected, () => {
      // Before the join completes, the failed connect below says what happened.
      if (room !== livekitRoom || !joined) return;
      livekitRoom = null;
      avatarDropped();
    });
    let timer = null;
    try {
      await Promise.race([
        room.connect(url, token),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("timeout")), LIVEKIT_CONNECT_MS);
        }),
      ]);
    } catch (e) {
      if (room === livekitRoom) livekitFailed();
      return;
    } finally {
      clearTimeout(timer);
    }
    if (room !== livekitRoom) return;
    joined = true;
    els.avatar.dataset.video = "connected";
  }

  function showAvatarText(text) {
    els.avatarText.textContent = text;
    els.avatarText.hidden = !text;
  }

  function avatarDegraded(message) {
    avatarSpeaks = false;
    els.avatar.hidden = false;
    showAvatarText(message || "The video is having trouble; voice continues.");
  }

  function avatarDropped() {
    leaveLivekit();
    delete els.avatar.dataset.video;
    avatarSessionId = null;
    els.avatar.hidden = false;
    els.avatarFrame.replaceChildren();
    avatarSpeaks = false;
    showAvatarText("The video stopped; voice continues.");
    els.avatarRestart.hidden = false;
  }

  els.avatarRestart.addEventListener("click", async () => {
    els.avatarRestart.disabled = true;
    showAvatarText("Restarting the video\u2026");
    const started = await requestAvatarSession();
    els.avatarRestart.disabled = false;
    if (!started.avatar || !started.avatar.session_id) {
      showAvatarText(started.message || "The video could not restart. Voice continues; you can try again later.");
      return;
    }
    avatarSessionId = String(started.avatar.session_id);
    reconnectQuietly();
  });

  window.addEventListener("pagehide", () => {
    leaveLivekit();
    closeAvatarSession();
  });

  // ---- voice input --------------------------------------------------------------------------

  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition || null;
  let recognition = null;
  let listening = false;
  let listenMode = null; // "hold" | "toggle" | "hands-free"
  let heard = "";
  let pressedAt = 0;
  let spaceHeld = false;
  let pausedForSpeech = false;

  function setupVoice() {
    if (!Recognition) {
      els.voiceControls.hidden = true;
      els.voiceUnavailable.hidden = false;
      return;
    }
    els.voiceControls.hidden = false;
    els.voiceUnavailable.hidden = true;
  }

  function startListening(mode) {
    if (!Recognition || listening) return;
    if (mode !== "hands-free") {
      // Speaking over the assistant interrupts it.
      stop();
    }
    heard = "";
    listenMode = mode;
    const rec = new Recognition();
    rec.lang = "en-GB";
    rec.interimResults = true;
    rec.continuous = mode === "hands-free";
    rec.onresult = (event) => {
      let interim = "";
      for (let i = event.resultIndex; i < event.results.length; i += 1) {
        const result = event.results[i];
        if (result.isFinal) {
          if (listenMode === "hands-free") {
            const said = result[0].transcript.trim();
            if (said) {
              els.question.value = "";
              ask(said);
            }
          } else {
            heard += result[0].transcript;
          }
        } else {
          interim += result[0].transcript;
        }
      }
      els.question.value = (heard + interim).trim();
    };
    rec.onerror = (event) => {
      if (event.error === "not-allowed" || event.error === "service-not-allowed") {
        els.handsFree.checked = false;
        setVoiceStatus("Aftercare is not allowed to use the microphone. You can type instead.");
      } else if (event.error === "no-speech") {
        setVoiceStatus("Aftercare did not hear anything.");
      }
    };
    rec.onend = () => {
      const mode = listenMode;
      recognition = null;
      listening = false;
      listenMode = null;
      setTalkButton(false);
      if (mode === "hold" || mode === "toggle") {
        const said = heard.trim();
        heard = "";
        if (said) {
          els.question.value = "";
          ask(said);
        }
        setVoiceStatus("");
      } else if (mode === "hands-free" && els.handsFree.checked && !pausedForSpeech) {
        setTimeout(() => {
          if (els.handsFree.checked && !pausedForSpeech && !listening) startListening("hands-free");
        }, 300);
      }
    };
    try {
      rec.start();
    } catch (e) {
      setVoiceStatus("The microphone could not start. You can type instead.");
      return;
    }
    recognition = rec;
    listening = true;
    setTalkButton(true);
    setVoiceStatus(mode === "hands-free" ? "Listening. Just speak." : "Listening\u2026");
  }

  function stopListening() {
    if (recognition) recognition.stop();
  }

  // Hands-free pauses while Aftercare speaks so it does not hear itself.
  function pauseListeningForSpeech() {
    if (listenMode === "hands-free" && recognition) {
      pausedForSpeech = true;
      recognition.abort();
      setVoiceStatus("Aftercare is speaking. Press Stop to interrupt.");
    } else if (els.handsFree.checked) {
      pausedForSpeech = true;
    }
  }

  function resumeListeningAfterSpeech() {
    if (!pausedForSpeech) return;
    pausedForSpeech = false;
    if (els.handsFree.checked && !listening) startListening("hands-free");
  }

  function setTalkButton(on) {
    els.talk.setAttribute("aria-pressed", on ? "true" : "false");
    els.talk.classList.toggle("listening", on);
    els.talk.textContent = on ? (listenMode === "toggle" ? "Listening \u2013 press to finish" : "Listening\u2026") : "Hold to talk";
  }

  function setVoiceStatus(text) {
    els.voiceStatus.textContent = text;
  }

  els.talk.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    if (els.handsFree.checked) els.handsFree.checked = false;
    if (listening && listenMode === "toggle") {
      stopListening();
      return;
    }
    pressedAt = Date.now();
    startListening("hold");
  });

  els.talk.addEventListener("pointerup", () => {
    if (!listening || listenMode !== "hold") return;
    if (Date.now() - pressedAt < 400) {
      listenMode = "toggle"; // a short click: keep listening until the next click
      setTalkButton(true);
    } else {
      stopListening();
    }
  });

  els.talk.addEventListener("pointercancel", () => {
    if (listening && listenMode === "hold") stopListening();
  });

  els.talk.addEventListener("keydown", (event) => {
    if (event.key === " " || event.code === "Space") {
      event.preventDefault();
      if (event.repeat || spaceHeld) return;
      spaceHeld = true;
      if (listening && listenMode === "toggle") {
        stopListening();
        return;
      }
      startListening("hold");
    }
  });

  els.talk.addEventListener("keyup", (event) => {
    if (event.key === " " || event.code === "Space") {
      event.preventDefault();
      spaceHeld = false;
      if (listening && listenMode === "hold") stopListening();
    }
  });

  // Enter (a keyboard click) toggles listening.
  els.talk.addEventListener("click", (event) => {
    if (event.detail !== 0 || spaceHeld) return;
    if (listening) stopListening();
    else startListening("toggle");
  });

  els.handsFree.addEventListener("change", () => {
    if (els.handsFree.checked) {
      if (!listening) startListening("hands-free");
    } else {
      pausedForSpeech = false;
      if (listening && listenMode === "hands-free") {
        listenMode = null;
        stopListening();
      }
      setVoiceStatus("");
    }
  });

  // ---- start --------------------------------------------------------------------------------

  window.aftercare = {
    ask,
    stop,
    isConnected: () => connected,
  };

  async function start() {
    setupVoice();
    updateStopButton();
    loadClinic();
    await redeemLink();
    const started = await requestAvatarSession();
    if (started.avatar && started.avatar.session_id) {
      avatarSessionId = String(started.avatar.session_id);
    } else if (started.message) {
      avatarDegraded(started.message);
    }
    connect();
  }

  start();
})();
