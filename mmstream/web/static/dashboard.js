// mmstream dashboard. Hand-written, no build step. Every value that came from a
// post (text, OCR text, author, brand names, topic labels, keywords) is put on the
// page as text (textContent / text nodes / Option text), never parsed as markup.
"use strict";
(() => {
  const MAX_FEED = 200;          // mention rows kept in the DOM
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f"];
  const FILTERS = ["brand", "label", "topic", "lang", "platform"];
  const DEFAULTS = Object.freeze({range: "1h", window: "tumbling", brand: "", topic: "", label: "", lang: "", platform: "", from: "", to: "", q: ""});
  const state = {...DEFAULTS};
  const charts = {};
  const names = new Map();       // brand id -> display name
  const topicNames = new Map();  // topic id -> label
  const shown = new Set();       // mention ids in the feed
  let source = null, last = null, skipped = 0, retryTimer = null, searchTimer = null, generation = 0;

  const $ = (id) => document.getElementById(id);

  // element builder: strings become text nodes, attributes are set as values
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "on") {
        node.addEventListener("click", value);
        if (tag !== "button" && tag !== "a") {  // rows and list items that filter: reachable and usable by keyboard
          node.tabIndex = 0;
          node.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); value(event); } });
        }
      }
      else if (key === "data") for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
      else node.setAttribute(key, String(value));
    }
    for (const kid of kids) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return node;
  }

  const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(x < 0.1 && x > 0 ? 1 : 0) + "%");
  const signed = (x) => (x === null || x === undefined ? "—" : (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(2));
  const clock = (ms) => (ms ? new Date(ms).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"}) : "");
  const stamp = (iso) => { const d = new Date(iso); return isNaN(d) ? String(iso || "") : d.toLocaleString([], {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"}); };
  const tone = (score) => (score === null || score === undefined ? "neutral" : score <= -0.2 ? "negative" : score >= 0.2 ? "positive" : "neutral");
  const brandName = (id) => names.get(id) || id;

  // -- the view: kept in the address's #fragment, so a reload, a shared link, Back and an edited address
  // all show the view they name -----------------------------------------------------
  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    for (const key of Object.keys(state)) state[key] = params.has(key) ? params.get(key) : DEFAULTS[key];
  }
  // each change of the view is a history entry (Back undoes it); the search box's keystrokes replace theirs
  function writeHash(replace) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(state)) if (value) params.set(key, value);
    const hash = "#" + params.toString();
    if (hash === location.hash || (hash === "#" && !location.hash)) return;
    if (replace) history.replaceState(null, "", hash); else history.pushState(null, "", hash);
  }
  function setFilter(key, value) {
    state[key] = state[key] === value ? "" : value;  // clicking the active filter clears it
    writeHash();
    syncControls();
    clearFeed();
    connect();
  }
  // Back, Forward or an address edited by hand: the view follows (each fires hashchange, as the
  // fragment differs between the entries; pushState and replaceState fire none)
  function followAddress() {
    readHash();
    syncControls();
    clearFeed();
    connect();
  }

  // -- the live connection -------------------------------------------------------
  const viewQuery = () => new URLSearchParams(Object.entries(state).filter(([, v]) => v)).toString();
  // a custom range is checked by the server first: a bad one is answered 400 with the fix, shown beside the inputs
  async function connect() {
    const mine = ++generation;  // a later call wins: one stream at a time, whatever the checks in flight
    if (source) { source.close(); source = null; }
    clearTimeout(retryTimer);
    $("range-error").textContent = "";
    if (state.range === "custom") {
      try {
        const reply = await fetch("/view?" + viewQuery(), {credentials: "same-origin"});
        if (reply.status === 400 && mine === generation) {
          $("range-error").textContent = (await reply.json()).error;
          setStatus("check the range");
          return;
        }
      } catch (error) { /* the worker is away: the event stream retries */ }
      if (mine !== generation) return;
    }
    if (source) source.close();
    source = new EventSource("/events?" + viewQuery());
    source.addEventListener("open", () => setStatus("live"));
    source.addEventListener("error", () => {
      setStatus("reconnecting…");
      if (source.readyState === EventSource.CLOSED) retryTimer = setTimeout(connect, 3000);
    });
    source.addEventListener("snapshot", (event) => render(JSON.parse(event.data)));
    source.addEventListener("mentions", (event) => addMentions(JSON.parse(event.data)));
  }
  // an ISO time as a datetime-local input's value (the browser's time zone), seconds kept
  function localInput(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  }
  function setStatus(text) {
    const node = $("status");
    node.textContent = text === "live" && last ? "live · " + clock(Date.now()) : text;
    node.className = "status " + (text === "live" ? "on" : "off");
  }

  // -- controls --------------------------------------------------------------------
  function fillSelect(select, options, value) {
    const wanted = options.map(([v, t]) => v + "\u0000" + t).join("\u0001");
    if (select.dataset.options !== wanted) {
      select.replaceChildren(...options.map(([v, t]) => new Option(t, v)));
      select.dataset.options = wanted;
    }
    select.value = value;
  }
  function syncControls() {
    for (const key of ["range", "window", ...FILTERS]) if ($(key).value !== state[key]) $(key).value = state[key];
    if (document.activeElement !== $("q")) $("q").value = state.q;
    $("custom-range").hidden = state.range !== "custom";
    for (const key of ["from", "to"]) if (state[key] && document.activeElement !== $(key)) $(key).value = localInput(state[key]);
    const wanted = [["brand", state.brand, brandName(state.brand)], ["topic", state.topic, topicNames.get(state.topic) || state.topic], ["label", state.label, state.label], ["lang", state.lang, state.lang], ["platform", state.platform, state.platform]].filter(([, value]) => value);
    // rebuilt only when they change: a refresh must not take the keyboard focus off a chip
    const same = JSON.stringify(wanted);
    if ($("filters").dataset.chips === same) return;
    $("filters").dataset.chips = same;
    $("filters").replaceChildren(...wanted.map(([key, value, text]) => el("button", {class: "chip active", title: "clear this filter", on: () => setFilter(key, value)}, key + ": " + text + " ×")));
  }

  // -- snapshot ----------------------------------------------------------------------
  function render(snap) {
    last = snap;
    for (const b of snap.brands) names.set(b.brand, b.name);
    for (const t of snap.topics) topicNames.set(t.id, t.label);
    fillSelect($("window"), snap.windows.map((w) => [w, w]), state.window);
    const brandOptions = [["", "all brands"], ...snap.brands.map((b) => [b.brand, b.name])];
    if (state.brand && !snap.brands.some((b) => b.brand === state.brand)) brandOptions.push([state.brand, state.brand]);
    fillSelect($("brand"), brandOptions, state.brand);
    const topicOptions = [["", "all topics"], ...snap.topics.map((t) => [t.id, t.label])];
    if (state.topic && !snap.topics.some((t) => t.id === state.topic)) topicOptions.push([state.topic, topicNames.get(state.topic) || state.topic]);
    fillSelect($("topic"), topicOptions, state.topic);
    for (const [key, all] of [["lang", "all languages"], ["platform", "all platforms"]]) {
      const options = [["", all], ...(snap.facets || {})[key].map(([v, n]) => [v, v + " (" + n + ")"])];
      if (state[key] && !options.some(([v]) => v === state[key])) options.push([state[key], state[key]]);
      fillSelect($(key), options, state[key]);
    }
    syncControls();
    renderKpis(snap);
    renderCharts(snap);
    renderBrands(snap);
    renderTopics(snap);
    renderAlerts(snap);
    if (window.mmPanels) window.mmPanels.render(snap, {el, pct, signed, clock, stamp, tone, brandName, setFilter, plot, state, filteredView, dur});
    feedEmpty();
    setStatus("live");
  }

  function renderKpis(snap) {
    const k = snap.kpis;
    const from = k.source === "mentions" ? "from the mentions in range that match the filters" + (k.covered_from ? " (read since " + clock(k.covered_from * 1000) + ")" : "") : "in range, from closed and open windows";
    const filtered = FILTERS.some((f) => state[f]);
    const tiles = [["brand mentions", k.brand_mentions, k.brand_mentions.toLocaleString(), from],
                   ["negative share", k.negative_share, pct(k.negative_share), "of these brand mentions"]];
    if (k.complaint_share !== null) tiles.push(["complaint share", k.complaint_share, pct(k.complaint_share), "of these brand mentions (those with a complaint flag)"]);
    tiles.push(["mentions / min", k.per_minute, k.per_minute.toLocaleString(), "in the last minute of event time" + (filtered ? ", matching the filters" : "")],
               ["brands", k.brands, String(k.brands), filtered ? "with mentions in view" : "configured or seen"]);
    const change = k.change || {}, prev = k.previous || {};
    const against = prev.since ? " vs " + (state.range === "custom" ? "the " + dur(prev.until - prev.since) + " before" : "the previous " + dur(prev.until - prev.since)) : "";
    // the change against the period of the same length before: +x % on mentions, ±x pp on the shares
    const delta = (label) => {
      const key = {"brand mentions": "brand_mentions", "negative share": "negative_share", "complaint share": "complaint_share"}[label];
      if (!key) return null;
      if (!prev.covered) return el("span", {class: "delta none", data: {delta: "none"}, text: "no earlier data"});
      const c = change[key] || {}, v = key === "brand_mentions" ? c.pct : c.pp;
      if (v === null || v === undefined) return el("span", {class: "delta none", data: {delta: "none"}, text: key === "brand_mentions" ? "none before" + against : "—" + against});
      const text = (v > 0 ? "+" : v < 0 ? "−" : "±") + Math.abs(v).toFixed(1) + (key === "brand_mentions" ? " %" : " pp") + against;
      return el("span", {class: "delta " + (v > 0 ? "up" : v < 0 ? "down" : "flat"), data: {delta: String(v)}, text});
    };
    $("kpis").replaceChildren(...tiles.map(([label, raw, value, hint]) => el("div", {class: "kpi", title: hint, data: {kpi: label, value: raw === null ? "" : raw}}, el("span", {class: "value", text: value}), el("span", {class: "label", text: label}), delta(label))));
    $("kpis-note").textContent = from;
    $("kpis").removeAttribute("aria-busy");
  }

  // 3600 -> "1 h", 300 -> "5 min", 90 -> "90 s": the units an analyst reads
  function dur(seconds) {
    const s = Math.round(Number(seconds) || 0);
    for (const [unit, n] of [["d", 86400], ["h", 3600], ["min", 60]]) if (s >= n && s % n === 0) return s / n + " " + unit;
    return s + " s";
  }
  function renderCharts(snap) {
    const c = snap.chart, w = c.window;
    const what = w.name + " windows of " + dur(w.size) + (w.step !== w.size ? " every " + dur(w.step) : "")
      + (c.bucket && c.bucket > w.step ? " · a point every " + dur(c.bucket) : "");
    const whose = c.brands.length ? (state.brand ? "one brand" : "top " + c.brands.length + " brands") : "waiting for posts";
    $("chart-note").textContent = what + " · " + whose + (c.source === "mentions" ? " · from the mentions matching the filters" : "");
    $("chart-open").textContent = c.open_from === null || !c.brands.length ? "" : "dashed and shaded from " + clock(c.open_from * 1000) + ": still open, more posts may come";
    // what each line adds up to, for screen readers (and the tests)
    const sums = c.brands.map((b, i) => [b, c.posts[i].reduce((a, x) => a + (x || 0), 0)]);
    $("chart-posts").dataset.posts = JSON.stringify(Object.fromEntries(sums));
    $("chart-posts").setAttribute("aria-label", "posts in range: " + sums.map(([b, n]) => brandName(b) + " " + n).join(", "));
    if (!c.brands.length) {  // nothing to draw: say so instead of empty axes
      for (const id of ["chart-posts", "chart-score", "chart-sov"]) {
        if (charts[id]) { charts[id].plot.destroy(); delete charts[id]; }
        $(id).replaceChildren(el("p", {class: "empty", text: filteredView() ? "no mention matches the filters in this range" : "no brand mention in this range yet"}));
      }
      return;
    }
    plot("chart-posts", c, c.posts, null);
    plot("chart-score", c, c.score, [-1, 1]);
  }
  // each brand twice: closed windows as a solid line, the open ones (from the last closed point on) dashed
  function split(c, rows) {
    const k = c.open_from === null ? c.t.length : c.t.indexOf(c.open_from);
    const cut = k < 0 ? c.t.length : k;
    const closed = rows.map((row) => row.map((v, i) => (i < cut ? v : null)));
    const open = rows.map((row) => row.map((v, i) => (i >= cut - 1 && cut < row.length ? v : null)));
    return {cut, data: [c.t, ...closed, ...open]};
  }
  // the band starts at the last closed point: it covers the dashed stretch even when one bucket is open
  const shadeFrom = (c, cut) => (c.open_from === null || cut >= c.t.length ? null : c.t[Math.max(0, cut - 1)]);
  function plot(id, c, rows, range) {
    const box = $(id);
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    const sig = c.brands.join("\u0000") + (dark ? "d" : "l");
    const {cut, data} = split(c, rows);
    box.dataset.openFrom = c.open_from === null ? "" : String(c.open_from);
    box.dataset.openPoints = String(c.t.length - cut);
    let entry = charts[id];
    if (!entry || entry.sig !== sig) {
      if (entry) entry.plot.destroy();
      box.replaceChildren();  // the loading or empty note
      const css = getComputedStyle(document.body);
      const ink = css.getPropertyValue("--muted").trim(), grid = css.getPropertyValue("--line").trim();
      const shade = css.getPropertyValue("--open").trim();
      const axis = {stroke: ink, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1}};
      const line = (b, i, open) => ({label: brandName(b) + (open ? " (open)" : ""), stroke: PALETTE[i % PALETTE.length], width: 2,
                                     dash: open ? [5, 4] : undefined, points: {size: open ? 6 : 4, fill: open ? "transparent" : undefined}});
      const shadeOpen = (u) => {
        const from = charts[id] && charts[id].openFrom;
        if (from === null || from === undefined) return;
        const x = Math.max(u.bbox.left, u.valToPos(from, "x", true));
        u.ctx.save();
        u.ctx.fillStyle = shade;
        u.ctx.fillRect(x, u.bbox.top, u.bbox.left + u.bbox.width - x, u.bbox.height);
        u.ctx.restore();
      };
      const opts = {width: Math.max(200, box.clientWidth), height: 200, cursor: {drag: {x: false, y: false}}, legend: {live: false},
        scales: {x: {time: true}, y: range ? {range: range} : {range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)]}},
        axes: [{...axis, space: 90}, {...axis, size: 48}], hooks: {drawClear: [shadeOpen]},
        series: [{}, ...c.brands.map((b, i) => line(b, i, false)), ...c.brands.map((b, i) => line(b, i, true))]};
      entry = charts[id] = {sig, openFrom: shadeFrom(c, cut), plot: new uPlot(opts, data, box)};
      // one legend row per brand: the open halves share their brand's colour
      const legend = [...box.querySelectorAll(".u-legend .u-series")];
      for (const row of legend.slice(legend.length - c.brands.length)) row.remove();
    } else {
      entry.openFrom = shadeFrom(c, cut);
      entry.plot.setData(data);
    }
  }
  window.addEventListener("resize", () => { for (const [id, entry] of Object.entries(charts)) entry.plot.setSize({width: Math.max(200, $(id).clientWidth), height: 200}); });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => last && renderCharts(last));

  function bar(value, kind) {
    const fill = el("span", {class: "fill " + kind});
    fill.style.width = value === null ? "0" : Math.min(100, 100 * value).toFixed(1) + "%";
    return el("span", {class: "barcell"}, el("span", {class: "bar"}, fill), el("span", {class: "pct", text: pct(value)}));
  }
  function renderBrands(snap) {
    const rows = snap.brands.map((b) => el("tr", {class: b.brand === state.brand ? "selected" : null, data: {brand: b.brand}, on: () => setFilter("brand", b.brand), title: "filter on this brand"},
      el("td", {class: "name"}, el("span", {text: b.name}), b.configured ? el("span", {class: "tag", text: "configured"}) : null),
      el("td", {class: "num", text: b.posts.toLocaleString()}),
      el("td", null, bar(b.share_of_voice, "sov")),
      el("td", null, bar(b.negative_share, "neg")),
      el("td", null, b.complaint_share === null ? "—" : bar(b.complaint_share, "cmp")),
      el("td", {class: "num " + tone(b.mean_score), text: signed(b.mean_score)})));
    $("brands").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", null, el("td", {colspan: 6, class: "empty", text: filteredView() ? "no brand mention matches the filters in this range" : "no brand mention in this range yet"}))]));
    $("brands-note").textContent = snap.brands_total > snap.brands.length ? snap.brands.length + " of " + snap.brands_total : "";
  }

  function renderTopics(snap) {
    const items = snap.topics.map((t) => el("li", {class: t.id === state.topic ? "selected" : null, data: {topic: t.id}, on: () => setFilter("topic", t.id), title: "filter on this topic"},
      el("div", {class: "row"}, el("strong", {text: t.label}), el("span", {class: "badge " + tone(t.mean_score), text: signed(t.mean_score)})),
      el("div", {class: "keywords"}, ...t.keywords.map((k) => el("span", {class: "kw", text: k}))),
      el("div", {class: "meta", text: t.posts.toLocaleString() + " posts · " + t.recent + " recent · " + pct(t.negative_share) + " negative"})));
    $("topics").replaceChildren(...(items.length ? items : [el("li", {class: "empty", text: filteredView() ? "no mined topic among the matching mentions" : "no mined topic yet"})]));
  }

  function renderAlerts(snap) {
    const items = snap.alerts.map((a) => {
      const f = a.figures || {}, subject = a.subject || {};
      const what = a.kind === "volume"
        ? f.posts + " posts vs " + Number(f.expected_posts).toFixed(1) + " expected (×" + Number(f.ratio).toFixed(1) + ", z " + Number(f.z).toFixed(1) + ")"
        : a.kind === "negative_share" ? pct(f.negative_share) + " negative vs " + pct(f.baseline_negative_share) + " before (z " + Number(f.negative_z).toFixed(1) + ")"
        : a.kind === "coordinated" && a.evidence ? a.evidence.posts + " near-identical posts by " + a.evidence.accounts + " accounts within " + dur(Math.round(a.evidence.span_seconds)) + (a.evidence.brands.length ? " · " + a.evidence.brands.map(brandName).join(", ") : "")
        : Object.entries(f).map(([k, v]) => k + " " + v).join(", ");
      const filterKey = subject.type === "topic" ? "topic" : subject.type === "brand" ? "brand" : null;
      return el("li", {data: {alert: a.id, subject: subject.id || ""}, on: filterKey ? () => setFilter(filterKey, subject.id) : null, title: filterKey ? "filter on " + filterKey : null},
        el("div", {class: "row"}, el("span", {class: "badge alert", text: a.kind.replace("_", " ")}), el("strong", {text: subject.label || subject.id}), el("span", {class: "meta", text: subject.type + " · " + stamp((a.window || {}).end)})),
        el("div", {class: "meta", text: what}),
        el("ul", {class: "evidence"}, ...(a.examples || []).map((e) => el("li", {text: e.text ? e.text : e.id}))),
        el("div", {class: "keywords"}, ...((a.top_topics || a.top_brands || []).map((t) => el("span", {class: "kw", text: (t.label || t.id || t.brand) + " (" + t.posts + ")"})))));
    });
    $("alerts").replaceChildren(...(items.length ? items : [el("li", {class: "empty", text: "no alert in range"})]));
  }

  // -- live mentions -----------------------------------------------------------------
  const filteredView = () => FILTERS.some((f) => state[f]);
  function clearFeed() { $("feed").replaceChildren(el("li", {class: "empty loading", text: "loading…"})); shown.clear(); skipped = 0; }
  // after the first snapshot, a feed that got nothing says why
  function feedEmpty() {
    const feed = $("feed");
    if (!feed.querySelector(".mention")) feed.replaceChildren(el("li", {class: "empty", text: filteredView() ? "no recent mention matches the filters" : "no mention yet"}));
  }
  function addMentions(payload) {
    const feed = $("feed");
    for (const note of feed.querySelectorAll(".empty")) note.remove();
    skipped += payload.skipped || 0;
    for (const m of payload.mentions) {
      if (shown.has(m.id)) continue;
      shown.add(m.id);
      feed.prepend(mentionRow(m));
    }
    while (feed.childElementCount > MAX_FEED) { shown.delete(feed.lastElementChild.dataset.id); feed.lastElementChild.remove(); }
    $("feed-note").textContent = "newest " + feed.childElementCount + (skipped ? " · " + skipped.toLocaleString() + " more passed in bursts" : "");
  }
  // a post's image and keyframe thumbnails: same-origin URLs (/thumb/<key>, the CSP's img-src 'self'), drawn at
  // most THUMB px a side with their width and height set (no jump as they load); one the worker no longer keeps
  // (its store is bounded) is taken away, not shown broken
  const THUMB = 64;
  function thumbs(list) {
    if (!list || !list.length) return null;
    const box = el("div", {class: "thumbs"});
    Object.assign(box.style, {display: "flex", gap: "6px", margin: "4px 0 0"});
    for (const t of list) {
      const scale = Math.min(1, THUMB / Math.max(t.width, t.height));
      const img = el("img", {class: "thumb", src: t.src, alt: "thumbnail: " + t.what, title: t.what, loading: "lazy", decoding: "async",
                             width: Math.max(1, Math.round(t.width * scale)), height: Math.max(1, Math.round(t.height * scale))});
      Object.assign(img.style, {borderRadius: "4px", objectFit: "cover", flex: "none"});
      img.addEventListener("error", () => { img.remove(); if (!box.childElementCount) box.remove(); });
      box.append(img);
    }
    return box;
  }
  function mentionRow(m) {
    const chips = (items, key, text) => items.map((x) => el("button", {class: "chip" + (state[key] === (x.id || x) ? " active" : ""), on: (e) => { e.stopPropagation(); setFilter(key, x.id || x); }, title: "filter on this " + key}, text(x)));
    return el("li", {class: "mention " + m.label, data: {id: m.id, label: m.label, brands: JSON.stringify(m.brands), topics: JSON.stringify(m.topics.map((t) => t.id))}},
      el("div", {class: "row"},
        el("button", {class: "badge " + m.label, on: () => setFilter("label", m.label), title: "filter on this sentiment", text: m.label}),
        el("span", {class: "score", text: signed(m.score)}),
        ...chips(m.brands, "brand", (b) => brandName(b)),
        m.complaint ? el("span", {class: "badge complaint", text: "complaint"}) : null,
        m.emotion ? el("span", {class: "tag", text: m.emotion}) : null,
        m.lang ? el("button", {class: "tag lang", on: () => setFilter("lang", m.lang), title: "filter on this language", text: m.lang}) : null,
        el("span", {class: "meta right"}, el("span", {class: "author", text: m.author}), m.author ? " · " : "", [m.platform, clock(m.t)].filter(Boolean).join(" · "))),
      thumbs(m.thumbs),
      m.text ? el("p", {class: "text", text: m.text}) : (m.has_post ? null : el("p", {class: "text missing", text: "(post " + m.id + " was not read back)"})),
      m.ocr_text ? el("p", {class: "ocr"}, el("span", {class: "tag", text: "image text"}), el("span", {class: "ocrtext", text: m.ocr_text})) : null,
      m.topics.length ? el("div", {class: "keywords"}, ...chips(m.topics.filter((t) => t.kind === "mined"), "topic", (t) => t.label), ...m.topics.filter((t) => t.kind !== "mined").map((t) => el("span", {class: "kw", text: t.label}))) : null);
  }

  // -- start ---------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    readHash();
    for (const key of ["window", ...FILTERS]) {
      $(key).addEventListener("change", (event) => { state[key] = event.target.value; writeHash(); syncControls(); clearFeed(); connect(); });
    }
    $("range").addEventListener("change", (event) => {
      if (event.target.value === "custom") {  // the inputs open on the range shown now; Apply connects
        $("custom-range").hidden = false;
        if (last && last.since && !$("from").value) { $("from").value = localInput(new Date(last.since).toISOString()); $("to").value = localInput(new Date(last.now).toISOString()); }
        $("from").focus();
        return;
      }
      Object.assign(state, {range: event.target.value, from: "", to: ""});
      writeHash(); syncControls(); clearFeed(); connect();
    });
    $("custom-range").addEventListener("submit", (event) => {
      event.preventDefault();
      const iso = (v) => { const d = new Date(v); return v && !isNaN(d) ? d.toISOString() : v; };
      Object.assign(state, {range: "custom", from: iso($("from").value), to: iso($("to").value)});
      writeHash(); syncControls(); clearFeed(); connect();
    });
    // the state follows each key at once (a snapshot drawn meanwhile keeps the box as typed); the view waits for a pause
    $("q").addEventListener("input", () => {
      clearTimeout(searchTimer);
      state.q = $("q").value;
      searchTimer = setTimeout(() => { writeHash(true); connect(); }, 350);
    });
    window.addEventListener("hashchange", followAddress);
    syncControls();
    connect();
  });
})();
