"""axe-core (npm, pinned in tests/browser/package-lock.json) inside the real Chromium, on the analyst's
page and on /operator, light and dark (issue 31): WCAG 2.x A and AA, no serious or critical violation,
and no colour-contrast violation at all. axe is put in the page through the DevTools protocol
(Runtime.evaluate of axe.min.js's text), not by a script tag: the page's CSP stays as it is."""
from __future__ import annotations

import json

import pytest

from browser import Browser
from system_deps import AXE
from test_dashboard import _page, dash, pytestmark  # noqa: F401 - fixture, the chromium skip

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RUN = f"""axe.run(document, {{runOnly: {{type: "tag", values: {json.dumps(TAGS)}}}, resultTypes: ["violations"]}})
  .then(r => r.violations.map(v => ({{id: v.id, impact: v.impact, help: v.help,
     nodes: v.nodes.slice(0, 5).map(n => ({{target: n.target.join(" "), summary: n.failureSummary}}))}})))"""


def _axe(b: Browser) -> list[dict]:
    if not b.eval("typeof window.axe === 'object'"):
        b.eval(AXE.read_text(encoding="utf-8") + "\n;true")
    return b.eval(RUN)


def _report(violations: list[dict]) -> str:
    return "\n".join(f"{v['impact']} {v['id']} ({v['help']}): " + "; ".join(f"{n['target']}: {n['summary']}"
                                                                            for n in v["nodes"]) for v in violations)


def _check(b: Browser, where: str) -> list[dict]:
    violations = _axe(b)
    bad = [v for v in violations if v["impact"] in ("serious", "critical") or v["id"] == "color-contrast"]
    assert not bad, f"{where}:\n{_report(bad)}"
    if violations:  # moderate and minor ones: reported, not failed
        print(f"axe, {where}, moderate/minor:\n{_report(violations)}")
    return violations


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_analyst_page_passes_axe(dash, dark):
    b = _page(dash)
    b.dark(dark)
    try:
        b.wait_for("document.querySelectorAll('#feed li.mention').length >= 30", 60)
        b.wait_for("document.querySelectorAll('#brands tbody tr[data-brand]').length >= 2 && "
                   "document.querySelectorAll('#alerts li[data-alert]').length >= 1", 60)
        _check(b, f"/ ({'dark' if dark else 'light'})")
        # with a filter chip and the export links showing too
        b.eval("document.querySelector('#brands tbody tr[data-brand]').click()")
        b.wait_for("!!document.querySelector('#filters button')", 10)
        b.eval("document.getElementById('export').click()")
        b.wait_for("!document.getElementById('export-menu').hidden", 5)
        _check(b, f"/ filtered, export open ({'dark' if dark else 'light'})")
        b.eval("document.getElementById('export').click()")
        b.eval("document.querySelector('#filters button').click()")
        b.wait_for("!document.querySelector('#filters button')", 10)
        assert b.eval("typeof window.__pwned") == "undefined"
        assert b.problems() == []  # axe ran without a CSP violation or an error
    finally:
        b.dark(False)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_operator_page_passes_axe(dash, dark):
    b = _page(dash)
    b.dark(dark)
    try:
        b.goto(f"{dash.url}/operator")
        b.wait_for("!document.querySelector('#ready').textContent.includes('loading') && "
                   "![...document.querySelectorAll('td')].some(td => td.textContent.includes('loading'))", 30)
        _check(b, f"/operator ({'dark' if dark else 'light'})")
        assert b.problems() == []
    finally:
        b.dark(False)
        b.goto(f"{dash.url}/")
