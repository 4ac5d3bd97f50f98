"use strict";
// The actorsched dashboard. It reads the same routes as the CLI (agents, history), learns of
// changes from /events (server-sent events; a 5 s poll when they are unavailable), and sends
// the controls with the bearer token, which lives in this tab's sessionStorage only.
// Every value from the server is set with textContent: a name or error holding <script> is text.
(() => {
  const TOKEN_KEY = "actorsched-token";
  const HISTORY = 50;
  const $ = (id) => document.getElementById(id);
  const state = { agents: [], selected: null, history: [], refreshing: null, pollTimer: null };

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  }

  function toast(message, bad = false) {
    const box = $("toast");
    box.textContent = message;
    box.className = bad ? "toast bad" : "toast";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, bad ? 6000 : 3000);
  }

  const fmt = {
    when(epoch) {
      if (epoch == null) return "—";
      const diff = epoch - Date.now() / 1000, abs = Math.abs(diff);
      const text = abs < 1 ? "now" : abs < 90 ? `${Math.round(abs)} s` : abs < 5400 ? `${Math.round(abs / 60)} min`
        : abs < 129600 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
      return text === "now" ? text : diff > 0 ? `in ${text}` : `${text} ago`;
    },
    clock(epoch) { return epoch == null ? "—" : new Date(epoch * 1000).toLocaleTimeString(); },
    seconds(s) {
      if (s == null) return "—";
      return s < 0.01 ? `${(s * 1000).toFixed(1)} ms` : s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`;
    },
    ms(ms) { return ms == null ? "—" : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`; },
    rate(stats) { return stats.total_executions ? `${stats.success_rate.toFixed(0)} %` : "—"; },
  };

  async function request(path, options = {}) {
    const response = await fetch(path, { cache: "no-store", ...options });
    let body = null;
    try { body = await response.json(); } catch (_) { /* an empty or non-JSON answer */ }
    if (!response.ok) {
      const detail = body && body.detail;
      const text = typeof detail === "string" ? detail : Array.isArray(detail) ? detail.map((d) => d.msg).join("; ")
        : `HTTP ${response.status}`;
      const error = new Error(text);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // -- the agents table ------------------------------------------------------------------
  function stateOf(stats) { return stats.is_running === false && stats.state === "stopped" ? "stopped" : stats.state; }

  function lastResult(stats) {
    if (stats.last_error && stats.consecutive_failures) return el("span", { class: "error", text: stats.last_error });
    if (stats.total_executions === 0) return document.createTextNode("—");
    return document.createTextNode(`${stats.successful_executions} ok, ${stats.failed_executions} failed`);
  }

  function actionButtons(stats) {
    const box = el("div", { class: "actions" });
    const running = stats.is_running, paused = stats.state === "paused";
    const add = (action, label, enabled, primary = false) => {
      const button = el("button", { type: "button", text: label, class: primary ? "" : "ghost", "data-action": action });
      button.disabled = !enabled;
      button.addEventListener("click", (event) => { event.stopPropagation(); control(stats.name, action); });
      box.append(button);
    };
    add("run", "Run", running && !paused && stats.state !== "running", true);
    if (running) add(paused ? "resume" : "pause", paused ? "Resume" : "Pause", true);
    add(running ? "stop" : "start", running ? "Stop" : "Start", true);
    return box;
  }

  function renderAgents() {
    const body = $("agents");
    body.replaceChildren();
    if (!state.agents.length) body.append(el("tr", { class: "empty" }, el("td", { colSpan: 7, text: "No agents yet." })));
    for (const stats of state.agents) {
      const cell = (label, ...kids) => el("td", { "data-label": label }, ...kids);
      const row = el("tr", { "data-agent": stats.name },
        cell("Agent", el("span", { class: "name", text: stats.name }), el("span", { class: "kind", text: stats.kind })),
        cell("State", el("span", { class: `badge ${stateOf(stats)}`, text: stateOf(stats).replace("_", " ") })),
        cell("Schedule", el("code", { text: stats.schedule || "—" })),
        el("td", { "data-label": "Next run", class: "num next-run", "data-at": stats.next_run_at ?? "", text: fmt.when(stats.next_run_at) }),
        el("td", { "data-label": "Last result", class: "clip", title: stats.last_error || "" }, lastResult(stats)),
        el("td", { "data-label": "Success", class: "num", text: fmt.rate(stats) }),
        el("td", { class: "cell-actions" }, actionButtons(stats)));
      if (stats.name === state.selected) row.classList.add("selected");
      row.addEventListener("click", () => select(stats.name));
      body.append(row);
    }
    const ended = state.agents.reduce((n, s) => n + s.total_executions, 0);
    const ok = state.agents.reduce((n, s) => n + s.successful_executions, 0);
    $("sum-agents").textContent = state.agents.length;
    $("sum-running").textContent = state.agents.filter((s) => s.is_running).length;
    $("sum-runs").textContent = ended;
    $("sum-success").textContent = ended ? `${(100 * ok / ended).toFixed(0)} %` : "—";
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  // -- one agent's runs --------------------------------------------------------------------
  // Bars keep the width of 20 runs until there are more: a first run is not one wide block.
  function plot(svg, caption, values, bad, unit) {
    const NS = "http://www.w3.org/2000/svg", W = 300, H = 80;
    svg.replaceChildren();
    const max = Math.max(...values.map((v) => v ?? 0), 0) || 1;
    const step = W / Math.max(values.length, 20);
    values.forEach((value, i) => {
      const h = value == null ? 0 : Math.max(1.5, (value / max) * (H - 14));
      const bar = document.createElementNS(NS, "rect");
      bar.setAttribute("x", (i * step + step * 0.15).toFixed(2));
      bar.setAttribute("width", Math.max(step * 0.7, 0.8).toFixed(2));
      bar.setAttribute("y", (H - h).toFixed(2));
      bar.setAttribute("height", h.toFixed(2));
      bar.setAttribute("class", bad[i] ? "bar-bad" : "bar-ok");
      const tip = document.createElementNS(NS, "title");
      tip.textContent = value == null ? "no value" : `${value.toFixed(3)} ${unit}`;
      bar.append(tip);
      svg.append(bar);
    });
    caption.textContent = values.length ? `max ${max.toFixed(max < 10 ? 2 : 0)} ${unit}` : "no runs yet";
  }

  function renderHistory() {
    const name = state.selected;
    $("detail").hidden = name == null;
    if (name == null) return;
    $("detail-title").textContent = `Runs of ${name}`;
    $("detail-note").textContent = `the last ${state.history.length}`;
    const body = $("history");
    body.replaceChildren();
    if (!state.history.length) body.append(el("tr", { class: "empty" }, el("td", { colSpan: 7, text: "No runs yet." })));
    for (const run of state.history) {
      const cell = (label, props, ...kids) => el("td", { "data-label": label, ...props }, ...kids);
      body.append(el("tr", { "data-run": run.run_id },
        cell("#", { class: "num", text: run.run_id }),
        cell("Outcome", {}, el("span", { class: `badge ${run.outcome}`, text: run.outcome })),
        cell("Started", { class: "num", text: fmt.clock(run.started_at) }),
        cell("Duration", { class: "num", text: fmt.seconds(run.finished_at - run.started_at) }),
        cell("Late", { class: "num", text: fmt.ms(run.lateness_ms) }),
        cell("Tries", { class: "num", text: run.attempts }),
        cell("Result or error", { class: run.error ? "clip error" : "clip", title: run.error || run.result || "",
                                  text: run.error || run.result || "—" })));
    }
    const oldestFirst = [...state.history].reverse();
    const bad = oldestFirst.map((r) => r.outcome !== "succeeded");
    plot($("plot-lateness"), $("max-lateness"), oldestFirst.map((r) => r.lateness_ms), bad, "ms");
    plot($("plot-duration"), $("max-duration"), oldestFirst.map((r) => r.finished_at - r.started_at), bad, "s");
  }

  async function select(name) {
    state.selected = state.selected === name ? null : name;
    state.history = [];
    renderAgents();
    renderHistory();
    if (state.selected) await loadHistory();
  }

  async function loadHistory() {
    const name = state.selected;
    if (name == null) return;
    try {
      const history = await request(`agents/${encodeURIComponent(name)}/history?limit=${HISTORY}`);
      if (state.selected === name) { state.history = history; renderHistory(); }
    } catch (error) { toast(`history of ${name}: ${error.message}`, true); }
  }

  async function refresh() {
    try {
      state.agents = await request("agents");
      if (state.selected && !state.agents.some((s) => s.name === state.selected)) state.selected = null;
      renderAgents();
      await loadHistory();
    } catch (error) {
      setMode("offline");
      $("updated").textContent = `cannot reach the server: ${error.message}`;
    }
  }

  // Many events arrive together (a burst of ticks): one refresh per 250 ms at most.
  function refreshSoon() {
    if (state.refreshing) return;
    state.refreshing = setTimeout(() => { state.refreshing = null; refresh(); }, 250);
  }

  // -- the controls ------------------------------------------------------------------------
  function askToken() {
    return new Promise((resolve) => {
      const dialog = $("token-dialog");
      $("token-input").value = "";
      dialog.onclose = () => {
        const token = $("token-input").value.trim();
        if (dialog.returnValue === "save" && token) { sessionStorage.setItem(TOKEN_KEY, token); resolve(token); }
        else resolve(null);
      };
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  function askSchedule(name, current) {
    return new Promise((resolve) => {
      const dialog = $("start-dialog");
      $("start-name").textContent = name;
      $("start-schedule").value = current || "every 1 minute";
      dialog.onclose = () => resolve(dialog.returnValue === "start" ? $("start-schedule").value.trim() : null);
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  async function control(name, action) {
    let token = sessionStorage.getItem(TOKEN_KEY) || await askToken();
    if (!token) return;
    let body = null;
    if (action === "start") {
      const stats = state.agents.find((s) => s.name === name) || {};
      const schedule = await askSchedule(name, stats.schedule);
      if (!schedule) return;
      body = JSON.stringify({ schedule });
    }
    try {
      const answer = await request(`agents/${encodeURIComponent(name)}/${action}`, {
        method: "POST", body, headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      });
      const changed = answer && (answer.started ?? answer.changed ?? true);
      toast(changed === false ? `${action} ${name}: nothing to do` : `${action} ${name}: done`);
    } catch (error) {
      if (error.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      toast(`${action} ${name}: ${error.message}${error.status === 401 ? " (set the token again)" : ""}`, true);
    }
    refreshSoon();
  }

  // -- live updates ------------------------------------------------------------------------
  function setMode(mode) { const live = $("live"); live.dataset.mode = mode; live.textContent = mode; }

  function poll() {
    if (state.pollTimer) return;
    setMode("polling");
    state.pollTimer = setInterval(refresh, 5000);
  }

  function listen() {
    if (!window.EventSource) { poll(); return; }
    const source = new EventSource("events");
    let opened = false;
    source.onopen = () => {
      opened = true;
      setMode("live");
      if (state.pollTimer) { clearInterval(state.pollTimer); state.pollTimer = null; }
      refreshSoon();  // what happened while the stream was closed
    };
    source.onmessage = (message) => {
      let event = null;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      if (event && (event.agent === state.selected || event.type !== "RunStarted")) refreshSoon();
    };
    source.onerror = () => {
      // The server ends each stream after a while and the browser reconnects; a server without
      // events (501) or gone closes it for good: poll instead.
      if (source.readyState === EventSource.CLOSED || !opened) { source.close(); poll(); }
    };
  }

  $("token-button").addEventListener("click", async () => {
    if (await askToken()) toast("token saved for this tab");
  });
  setInterval(() => {  // the "in 4 s" countdowns, from the stats already here
    for (const cell of document.querySelectorAll("td.next-run")) {
      const at = cell.dataset.at;
      cell.textContent = fmt.when(at === "" ? null : Number(at));
    }
  }, 1000);
  refresh();
  listen();
})();
