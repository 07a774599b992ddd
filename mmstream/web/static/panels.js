// mmstream dashboard: the analyst's panels (share of voice over time, search, top authors, campaigns and
// duplicates), drawn from the snapshot dashboard.js receives; every figure computed by the server. Every
// value from a post (text, author, platform, campaign template) goes on the page as text, never as markup.
"use strict";
window.mmPanels = (() => {
  const $ = (id) => document.getElementById(id);

  function sov(snap, h) {
    const c = snap.chart, box = $("chart-sov");
    const share = c.share || [];
    box.dataset.share = JSON.stringify(Object.fromEntries(c.brands.map((b, i) => [b, share[i] || []])));
    box.dataset.t = JSON.stringify(c.t);
    const brands = c.share_brands || 0;
    $("sov-note").textContent = c.brands.length ? "% of the posts of " + (brands === 1 ? "the one brand" : "all " + brands + " brands") + " in view, per " + h.dur(c.bucket) : "";
    $("sov-open").textContent = c.open_from === null || !c.brands.length ? "" : "dashed and shaded from " + h.clock(c.open_from * 1000) + ": still open, the shares may move";
    if (!c.brands.length) return;  // dashboard.js said why in the box
    h.plot("chart-sov", c, share.map((row) => row.map((v) => (v === null ? null : Math.round(1000 * v) / 10))), [0, 100]);
  }

  function search(snap, h) {
    const s = snap.search, list = $("search-results");
    $("search").dataset.total = s ? String(s.total) : "";
    $("search").dataset.q = s ? s.q : "";
    if (!s) {
      $("search-note").textContent = "";
      list.replaceChildren(h.el("li", {class: "empty", text: "type in the search box to find recent mentions (literal, any case)"}));
      return;
    }
    $("search-note").textContent = s.total.toLocaleString() + " of " + s.searched.toLocaleString() + " recent mentions in view" + (s.covered_from ? " (read since " + h.clock(s.covered_from * 1000) + ")" : "");
    const rows = s.mentions.map((m) => h.el("li", {class: "hit " + m.label, data: {id: m.id}},
      h.el("div", {class: "row"}, h.el("span", {class: "badge " + m.label, text: m.label}),
        h.el("span", {class: "meta right"}, h.el("span", {class: "author", text: m.author}), m.author ? " · " : "", [m.platform, h.clock(m.t)].filter(Boolean).join(" · "))),
      h.el("p", {class: "text"}, ...highlight(m.text || m.ocr_text || "", s.q, h))));
    list.replaceChildren(...(rows.length ? rows : [h.el("li", {class: "empty", text: "no recent mention in view contains “" + s.q + "”"})]));
  }
  // the match marked: text nodes and <mark> elements, the needle compared case-insensitively
  function highlight(text, q, h) {
    const out = [], lower = text.toLowerCase(), needle = q.toLowerCase();
    let at = 0;
    for (let i = needle ? lower.indexOf(needle) : -1; i >= 0 && needle; i = lower.indexOf(needle, at)) {
      out.push(text.slice(at, i), h.el("mark", {text: text.slice(i, i + needle.length)}));
      at = i + needle.length;
    }
    out.push(text.slice(at));
    return out;
  }

  function split(labels, h) {
    const total = labels.negative + labels.neutral + labels.positive || 1;
    const bar = h.el("span", {class: "split", title: labels.negative + " negative · " + labels.neutral + " neutral · " + labels.positive + " positive"});
    for (const k of ["negative", "neutral", "positive"]) {
      const part = h.el("span", {class: "part " + k});
      part.style.width = (100 * labels[k] / total).toFixed(1) + "%";
      bar.append(part);
    }
    return bar;
  }
  function authors(snap, h) {
    const a = snap.authors;
    $("authors-note").textContent = a.total ? "top " + a.authors.length + " of " + a.total.toLocaleString() + " authors in view" + (a.anonymous ? " · " + a.anonymous + " posts without one" : "") : "";
    const rows = a.authors.map((r) => h.el("tr", {data: {author: r.author}},
      h.el("td", {class: "name"}, h.el("span", {class: "author", text: r.author}), ...r.platforms.map((p) => h.el("span", {class: "tag", text: p}))),
      h.el("td", {class: "num", text: r.posts.toLocaleString()}),
      h.el("td", null, split(r.labels, h)),
      h.el("td", {class: "num negative", text: h.pct(r.negative_share)})));
    $("authors").tBodies[0].replaceChildren(...(rows.length ? rows : [h.el("tr", null, h.el("td", {colspan: 4, class: "empty", text: h.filteredView() ? "no author among the mentions matching the filters" : "no author in this range yet"}))]));
  }

  function copies(snap, h) {
    // the campaign as the worker counted it (its latest flagged post's counts), then what of it is in view
    const camps = snap.campaigns.map((c) => h.el("li", {data: {campaign: c.id, flagged: c.posts, accounts: c.authors}},
      h.el("div", {class: "row"}, h.el("span", {class: "badge alert", text: c.alerted ? "coordinated · alerted" : "coordinated"}),
        h.el("strong", {text: c.reported_posts + " posts by " + c.reported_authors + " accounts"}),
        h.el("span", {class: "meta", text: c.posts + " flagged in view by " + c.authors + " · since " + h.clock(c.first_seen) + " · " + c.id})),
      h.el("p", {class: "template", text: c.template}),
      h.el("div", {class: "keywords"}, ...c.brands.map((b) => h.el("button", {class: "chip", title: "filter on this brand", on: () => h.setFilter("brand", b)}, h.brandName(b))))));
    $("campaigns").replaceChildren(...(camps.length ? camps : [h.el("li", {class: "empty", text: "no coordinated campaign among the recent mentions in view"})]));
    const rows = snap.duplicates.map((d) => h.el("tr", {data: {brand: d.brand, duplicates: d.duplicates === null ? "" : d.duplicates}},
      h.el("td", {class: "name", text: d.name}),
      h.el("td", {class: "num", text: d.duplicates === null ? "—" : d.duplicates.toLocaleString()}),
      h.el("td", null, bar(d.duplicate_share, h))));
    $("dupes").tBodies[0].replaceChildren(...(rows.length ? rows : [h.el("tr", null, h.el("td", {colspan: 3, class: "empty", text: "no brand mention in view"}))]));
  }
  function bar(value, h) {
    const fill = h.el("span", {class: "fill dup"});
    fill.style.width = value === null ? "0" : Math.min(100, 100 * value).toFixed(1) + "%";
    return h.el("span", {class: "barcell"}, h.el("span", {class: "bar"}, fill), h.el("span", {class: "pct", text: h.pct(value)}));
  }

  return {render(snap, h) { sov(snap, h); search(snap, h); authors(snap, h); copies(snap, h); }};
})();
