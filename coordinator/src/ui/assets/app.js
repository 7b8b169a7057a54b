// The render farm UI's script: themes, actions through the API (with the
// page's CSRF token), and live updates from the change feed
// (GET /api/v1/events, Server-Sent Events). Nothing polls.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function say(text, bad) {
  const status = document.getElementById("status");
  if (!status) return;
  const line = document.createElement("p");
  line.textContent = text;
  if (bad) line.className = "bad";
  status.append(line);
  setTimeout(() => line.remove(), bad ? 12000 : 5000);
}

// POST to the API as the signed-in browser (with `body` as JSON, if
// given); the server's message on refusal.
async function post(path, body) {
  const headers = { "X-CSRF-Token": csrf() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer?.error?.message ?? `${response.status} ${response.statusText}`);
  return answer;
}

function setupTheme() {
  const saved = localStorage.getItem("theme");
  if (saved) document.documentElement.dataset.theme = saved;
  document.getElementById("theme")?.addEventListener("click", () => {
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    const now = document.documentElement.dataset.theme ?? (dark ? "dark" : "light");
    const next = now === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("theme", next);
  });
  document.getElementById("sign-out")?.addEventListener("click", async () => {
    try { await post("/ui/logout"); } finally { location.href = "/ui/login"; }
  });
}

function setBadge(badge, state) {
  if (!badge) return;
  badge.textContent = state;
  badge.className = `badge ${state}`;
}

// ---- the jobs table -------------------------------------------------------

function drawBar(cell, total, done, verified, failed) {
  const share = (n) => (total ? (100 * n) / total : 0).toFixed(2) + "%";
  const bar = cell.querySelector(".bar");
  if (!bar) return;
  const v = Math.min(verified, done);
  bar.querySelector(".verified").style.width = share(v);
  bar.querySelector(".rendered").style.width = share(done - v);
  bar.querySelector(".failed").style.width = share(failed);
  bar.setAttribute("aria-label", `${done} of ${total} rendered, ${v} verified, ${failed} failed`);
}

function setupJobs(table) {
  const rows = new Map([...table.querySelectorAll("tr[data-job]")].map((row) => [row.dataset.job, row]));
  const counts = new Map([...rows].map(([id, row]) => [id, JSON.parse(row.dataset.counts)]));
  const show = (id) => {
    const row = rows.get(id), c = counts.get(id), total = Number(row.dataset.total);
    drawBar(row.querySelector('[data-field="progress"]'), total, c.done, c.verified, c.failed);
    row.querySelector('[data-field="frames"]').textContent = `${c.done} / ${total}`;
  };
  document.getElementById("select-all")?.addEventListener("change", (e) => {
    table.querySelectorAll(".pick").forEach((box) => (box.checked = e.target.checked));
  });
  // A priority typed into a row's box (or set for the selected rows).
  const setPriority = async (row, value) => {
    const name = row.querySelector("a").textContent, box = row.querySelector(".priority");
    try {
      const answer = await post(`/api/v1/jobs/${row.dataset.job}/priority`, { priority: Number(value) });
      box.value = answer.priority;
      box.defaultValue = String(answer.priority);
      say(`${name}: priority ${answer.priority}`);
    } catch (error) {
      box.value = box.defaultValue;
      say(`priority of ${name}: ${error.message}`, true);
    }
  };
  table.addEventListener("change", (event) => {
    const box = event.target.closest(".priority");
    // An emptied box (while typing a new number) is no priority.
    if (box && box.value.trim() !== "") setPriority(box.closest("tr"), box.value);
  });
  document.querySelectorAll("[data-bulk]").forEach((button) =>
    button.addEventListener("click", async () => {
      const action = button.dataset.bulk;
      const picked = [...table.querySelectorAll("tr[data-job]")].filter((r) => r.querySelector(".pick").checked);
      if (!picked.length) return say("Select one or more jobs first.", true);
      for (const row of picked) {
        if (action === "priority") {
          const value = document.getElementById("bulk-priority").value;
          if (value.trim() === "") return say("Type a priority (0 to 100) first.", true);
          await setPriority(row, value);
          continue;
        }
        try {
          const answer = await post(`/api/v1/jobs/${row.dataset.job}/${action}`);
          setBadge(row.querySelector('[data-field="state"]'), answer.state);
          say(`${action}: ${row.querySelector("a").textContent} is ${answer.state}`);
        } catch (error) {
          say(`${action} ${row.querySelector("a").textContent}: ${error.message}`, true);
        }
      }
    }),
  );
  let unseen = 0;
  follow(`/api/v1/events?after=${table.dataset.after}`, {
    async job(change) {
      const row = rows.get(change.job_id);
      if (!row) {
        if (change.was === null && ++unseen) say(`${unseen} new job(s): reload to see them`);
        return;
      }
      setBadge(row.querySelector('[data-field="state"]'), change.now);
      const box = row.querySelector(".priority");
      box.disabled = ["done", "failed", "cancelled"].includes(change.now);
      // A change that is not the state's is the priority's: read it.
      if (change.was === change.now && document.activeElement !== box) {
        const job = await fetch(`/api/v1/jobs/${change.job_id}`).then((r) => r.json());
        box.value = job.priority;
        box.defaultValue = String(job.priority);
      }
    },
    frame(change) {
      const c = counts.get(change.job_id);
      if (!c) return;
      if (change.now === "rendering") rows.get(change.job_id).querySelector('[data-field="waiting"]')?.remove();
      if (change.was !== change.now) { c[change.was]--; c[change.now]++; }
      if (change.was_check !== change.now_check) {
        if (change.was_check === "verified") c.verified--;
        if (change.now_check === "verified") c.verified++;
      }
      show(change.job_id);
    },
  });
}

// ---- one job's frame grid ---------------------------------------------------

const STATE_OF = { p: "pending", r: "rendering", d: "done", f: "failed", c: "cancelled" };
const CODE_OF = { pending: "p", rendering: "r", done: "d", failed: "f", cancelled: "c" };
const CHECK_CODE = { unchecked: "u", awaiting: "a", comparing: "c", arbitrating: "b", verified: "v",
  non_deterministic: "n", rerendering: "e", unverifiable: "x" };
const CHECK_OF = Object.fromEntries(Object.entries(CHECK_CODE).map(([k, v]) => [v, k]));

function frameClass(state, check) {
  switch (state) {
    case "p": return "queued";
    case "r": return "rendering";
    case "f": return "failed";
    case "c": return "cancelled";
    default: return check === "v" ? "verified" : "bne".includes(check) ? "disagreed" : "rendered";
  }
}

function setupGrid(data) {
  const canvas = document.getElementById("grid");
  const hover = document.getElementById("grid-hover");
  const state = data.state.split(""), check = data.check.split("");
  const index = new Map(data.frames.map((frame, i) => [frame, i]));
  const n = data.frames.length;
  let cell = n <= 400 ? 22 : n <= 2500 ? 12 : 7, cols = 1, selected = 0;
  const colours = () => {
    const style = getComputedStyle(document.documentElement);
    return Object.fromEntries(["queued", "rendering", "rendered", "verified", "disagreed", "failed", "cancelled"]
      .map((name) => [name, style.getPropertyValue(`--${name}`).trim()]));
  };
  let palette = colours();
  const ctx = canvas.getContext("2d");
  const paint = (i) => {
    const x = (i % cols) * cell, y = Math.floor(i / cols) * cell;
    ctx.fillStyle = palette[frameClass(state[i], check[i])];
    ctx.fillRect(x, y, cell - 1, cell - 1);
    if (i === selected && document.activeElement === canvas) {
      ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--fg");
      ctx.strokeRect(x + 0.5, y + 0.5, cell - 2, cell - 2);
    }
  };
  const layout = () => {
    const width = canvas.parentElement.clientWidth - 16;
    cols = Math.max(1, Math.floor(width / cell));
    const rows = Math.ceil(n / cols), ratio = devicePixelRatio || 1;
    canvas.style.height = `${rows * cell}px`;
    canvas.width = Math.floor(width * ratio);
    canvas.height = Math.floor(rows * cell * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    palette = colours();
    for (let i = 0; i < n; i++) paint(i);
  };
  const describe = (i) =>
    `frame ${data.frames[i]}: ${STATE_OF[state[i]]}, ${CHECK_OF[check[i]].replace("_", " ")}`;
  const counts = () => {
    let done = 0, verified = 0, failed = 0;
    for (let i = 0; i < n; i++) {
      if (state[i] === "d") { done++; if (check[i] === "v") verified++; }
      if (state[i] === "f") failed++;
    }
    document.getElementById("frames-done").textContent = `${done} / ${n} rendered`;
    document.getElementById("frames-verified").textContent = String(verified);
    document.getElementById("frames-failed").textContent = String(failed);
    const bar = document.querySelector("main > .bar");
    if (bar) drawBar({ querySelector: () => bar }, n, done, verified, failed);
  };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    const i = Math.floor((event.clientY - box.top) / cell) * cols + Math.floor((event.clientX - box.left) / cell);
    return event.clientX - box.left < cols * cell && i >= 0 && i < n ? i : -1;
  };
  const open = (i) => (location.href = `/ui/jobs/${data.job}/frames/${data.frames[i]}`);
  canvas.addEventListener("mousemove", (e) => { const i = at(e); hover.textContent = i < 0 ? "" : describe(i); });
  canvas.addEventListener("click", (e) => { const i = at(e); if (i >= 0) open(i); });
  canvas.addEventListener("keydown", (e) => {
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    if (e.key === "Enter") return open(selected);
    if (!(e.key in moves)) return;
    e.preventDefault();
    const before = selected;
    selected = Math.min(n - 1, Math.max(0, selected + moves[e.key]));
    paint(before); paint(selected);
    hover.textContent = describe(selected);
  });
  canvas.addEventListener("focus", () => paint(selected));
  canvas.addEventListener("blur", () => paint(selected));
  new ResizeObserver(layout).observe(canvas.parentElement);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", layout);
  document.getElementById("theme")?.addEventListener("click", () => requestAnimationFrame(layout));
  layout();
  performance.mark("grid-drawn");
  let pending = false;
  // Why the job waits is the server's to say (it knows the workers): a
  // frame taken means it no longer waits; frames handed back to the queue
  // may mean its workers left, so read the notice afresh (at most once a
  // second).
  let rereading = false;
  const reread = () => {
    if (rereading) return;
    rereading = true;
    setTimeout(async () => {
      rereading = false;
      const page = await fetch(location.href).then((r) => r.text());
      const fresh = new DOMParser().parseFromString(page, "text/html").getElementById("job-waiting");
      const shown = document.getElementById("job-waiting");
      if (fresh && shown) shown.replaceWith(fresh);
      else if (fresh) document.querySelector(".facts").before(fresh);
      else shown?.remove();
    }, 1000);
  };
  follow(`/api/v1/events?job=${data.job}&after=${data.after}`, {
    job(change) {
      setBadge(document.getElementById("job-state"), change.now);
      if (["queued", "running"].includes(change.now)) reread();
      else document.getElementById("job-waiting")?.remove();
    },
    frame(change) {
      if (change.now === "rendering") document.getElementById("job-waiting")?.remove();
      if (change.was === "rendering" && change.now === "pending") reread();
      const i = index.get(change.frame);
      if (i === undefined) return;
      state[i] = CODE_OF[change.now];
      check[i] = CHECK_CODE[change.now_check];
      paint(i);
      if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; counts(); }); }
    },
  });
  document.querySelectorAll("[data-action]").forEach((button) =>
    button.addEventListener("click", async () => {
      try {
        const answer = await post(`/api/v1/jobs/${button.dataset.job}/${button.dataset.action}`);
        setBadge(document.getElementById("job-state"), answer.state);
        say(`${button.dataset.action}: the job is ${answer.state}`);
      } catch (error) {
        say(`${button.dataset.action}: ${error.message}`, true);
      }
    }),
  );
}

// ---- the workers -----------------------------------------------------------

function setupWorkers(table) {
  // Rows are made on the server: when a worker changes, fetch the page
  // again (at most once a second) and take its rows.
  const reload = async () => {
    const page = await fetch(location.href).then((r) => r.text());
    const fresh = new DOMParser().parseFromString(page, "text/html").querySelector("#workers tbody");
    if (fresh) table.querySelector("tbody").replaceWith(fresh);
  };
  let queued = false;
  const refresh = () => {
    if (queued) return;
    queued = true;
    setTimeout(() => { queued = false; reload(); }, 1000);
  };
  const DONE = { blocklist: "blocklisted", reinstate: "reinstated", drain: "draining", undrain: "taking tasks again" };
  table.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-worker-action]");
    if (!button) return;
    const row = button.closest("tr"), action = button.dataset.workerAction;
    const name = row.children[1].textContent;
    let body;
    if (action === "blocklist") {
      const reason = document.getElementById("blocklist-reason").value.trim();
      if (!reason) return say("Say why in the reason box first; the worker's operator sees it.", true);
      body = { reason };
    }
    try {
      await post(`/api/v1/workers/${row.dataset.worker}/${action}`, body);
      say(`${name}: ${DONE[action]}`);
      await reload();
    } catch (error) {
      say(`${action} ${name}: ${error.message}`, true);
    }
  });
  follow(`/api/v1/events?after=${table.dataset.after}`, { worker: refresh });
}

// Follow the change feed; EventSource reconnects by itself and resumes
// after the last event it received (Last-Event-ID).
function follow(url, handlers) {
  const source = new EventSource(url);
  window.farmEvents = 0;
  for (const [kind, handle] of Object.entries(handlers)) {
    source.addEventListener(kind, (event) => {
      window.farmEvents++;
      handle(JSON.parse(event.data));
    });
  }
  source.addEventListener("ready", () => document.body.setAttribute("data-live", "true"));
  source.addEventListener("reset", () => location.reload());
  // A browser allows a few connections per site; one left open by a page
  // kept in the back-forward cache would hold one, so let go of it when
  // leaving, and load afresh when coming back.
  addEventListener("pagehide", () => source.close());
  addEventListener("pageshow", (event) => event.persisted && location.reload());
  return source;
}

document.addEventListener("DOMContentLoaded", () => {
  setupTheme();
  const table = document.getElementById("jobs");
  if (table) setupJobs(table);
  const exposure = document.getElementById("exposure");
  if (exposure) {
    // The previews are tone-mapped PNGs: exposure scales what they show.
    const apply = () => {
      const ev = Number(exposure.value);
      document.getElementById("exposure-value").textContent = `${ev > 0 ? "+" : ""}${ev} EV`;
      document.querySelectorAll("img.preview").forEach((img) => (img.style.filter = `brightness(${2 ** ev})`));
    };
    exposure.addEventListener("input", apply);
  }
  const workers = document.getElementById("workers");
  if (workers) setupWorkers(workers);
  const data = document.getElementById("grid-data");
  if (data) setupGrid(JSON.parse(data.textContent));
});
