// mmstream operator view: readiness, per-lane lag and queue depth, dead letters by reason.
// Hand-written, no build step; every value from the worker is put on the page as text.
"use strict";
(() => {
  const EVERY = 5000;
  const $ = (id) => document.getElementById(id);
  function cell(text, cls) { const td = document.createElement("td"); td.textContent = String(text); if (cls) td.className = cls; return td; }
  function row(...cells) { const tr = document.createElement("tr"); tr.append(...cells); return tr; }
  function empty(cols, text) { const td = cell(text, "empty"); td.colSpan = cols; return [row(td)]; }

  // the Prometheus text format's gauges of one name, by their lane label
  function perLane(text, name) {
    const out = new Map();
    for (const line of text.split("\n")) {
      if (!line.startsWith(name + "{")) continue;
      const lane = /lane="([^"]*)"/.exec(line);
      const value = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (lane && Number.isFinite(value)) out.set(lane[1], (out.get(lane[1]) || 0) + value);
    }
    return out;
  }

  async function readiness() {
    const reply = await fetch("/ready", {cache: "no-store"});
    const body = await reply.json();
    const node = $("ready");
    node.textContent = body.ready ? "ready" : "not ready (" + reply.status + ")";
    node.className = "ready " + (body.ready ? "on" : "off");
    const checks = Object.entries(body.checks || {});
    // a check is {ok, detail, ...more}: "ok · joined, partitions assigned · posts_partitions 0,1,2,3"
    const said = (v) => (v && typeof v === "object"
      ? [v.ok ? "ok" : "not yet", v.detail, ...Object.entries(v).filter(([k]) => k !== "ok" && k !== "detail").map(([k, x]) => k + " " + x)].filter(Boolean).join(" · ")
      : String(v));
    const ok = (v) => (v && typeof v === "object" ? v.ok : v);
    $("checks").tBodies[0].replaceChildren(...(checks.length ? checks.map(([k, v]) => row(cell(k), cell(said(v), ok(v) === true ? "positive" : ok(v) === false ? "negative" : ""))) : empty(2, "no check reported")));
  }

  async function lanes() {
    const reply = await fetch("/metrics", {cache: "no-store"});
    const text = await reply.text();
    const lag = perLane(text, "mmstream_lane_lag_records"), depth = perLane(text, "mmstream_lane_queue_depth");
    const names = [...new Set([...lag.keys(), ...depth.keys()])].sort();
    const fmt = (m, k) => (m.has(k) ? m.get(k).toLocaleString() : "—");
    $("lanes").tBodies[0].replaceChildren(...(names.length ? names.map((k) => row(cell(k), cell(fmt(lag, k), "num"), cell(fmt(depth, k), "num"))) : empty(3, "no lane reports yet")));
  }

  async function deadLetters() {
    const reply = await fetch("/operator/state", {cache: "no-store"});
    const body = await reply.json();
    const reasons = body.dead_letters.reasons;
    $("dead").tBodies[0].replaceChildren(...(reasons.length ? reasons.map((r) => {
      const detail = cell(r.last.detail, "detail");
      if (r.last.id) detail.title = "post " + r.last.id;
      return row(cell(r.reason), cell(r.stage), cell(r.count.toLocaleString(), "num"), detail);
    }) : empty(4, "none")));
    $("dead-note").textContent = "(every worker's, read from the dead-letter topic: " + body.dead_letters.total.toLocaleString() + " since this page's worker began reading)";
  }

  async function refresh() {
    const results = await Promise.allSettled([readiness(), lanes(), deadLetters()]);
    const failed = results.filter((r) => r.status === "rejected").length;
    const status = $("status");
    status.textContent = failed ? "worker unreachable · retrying" : "updated " + new Date().toLocaleTimeString();
    status.className = "status " + (failed ? "off" : "on");
  }

  document.addEventListener("DOMContentLoaded", () => { refresh(); setInterval(refresh, EVERY); });
})();
