// mmstream dashboard: export of the current view as CSV (mmstream/web/export.py).
// The view is the one in the address's #fragment (what dashboard.js shows); the
// button opens two download links, windows and mentions, made with
// createElement and textContent only. The downloads are same-origin GETs, so the
// dashboard's session cookie (its token) goes with them.
"use strict";
(() => {
  const FILES = [["windows", "Windows (chart rows)"], ["mentions", "Mentions"]];

  function viewQuery() {
    const params = new URLSearchParams(location.hash.slice(1));
    for (const [key, value] of [...params]) if (!value) params.delete(key);
    return params.toString();
  }

  function refresh(menu) {
    const query = viewQuery();
    for (const link of menu.querySelectorAll("a[data-export]")) {
      link.href = "/export/" + link.dataset.export + ".csv" + (query ? "?" + query : "");
    }
  }

  function setup() {
    const button = document.getElementById("export");
    if (!button) return;
    const menu = document.createElement("div");
    menu.id = "export-menu";
    menu.className = "export-menu";
    menu.hidden = true;
    for (const [kind, label] of FILES) {
      const link = document.createElement("a");
      link.dataset.export = kind;
      link.setAttribute("download", "");
      link.textContent = label + " · CSV";
      menu.append(link);
    }
    button.setAttribute("aria-controls", menu.id);
    button.setAttribute("aria-expanded", "false");
    button.after(menu);
    const toggle = (open) => {
      if (open) refresh(menu);
      menu.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
    };
    button.addEventListener("click", () => toggle(menu.hidden));
    menu.addEventListener("click", (event) => { if (event.target.closest("a")) refresh(menu); });
    window.addEventListener("hashchange", () => refresh(menu));
    document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !menu.hidden) { toggle(false); button.focus(); } });
    refresh(menu);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
