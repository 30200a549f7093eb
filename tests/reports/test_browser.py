"""The archived reports as a person sees them: Debian's Chromium (headless, through Playwright)
opens the archived HTML and saves a screenshot per report in test-artifacts/ (git-ignored)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from nps.reports.periods import period_of
from nps.reports.stage import render_and_archive
from tests.reports.helpers import build_fixture, config_with

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BROKEN = "els => els.filter(e => !e.complete || e.naturalWidth === 0).map(e => e.getAttribute('src'))"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_archived_reports_render_in_chromium(warehouse, program_config, browser, tmp_path):
    config = config_with(program_config)
    build_fixture(warehouse, config)
    store = tmp_path / "reports"
    render_and_archive(warehouse, config, period_of("monthly", date(2026, 11, 1)), store_uri=str(store))
    render_and_archive(warehouse, config, period_of("quarterly", date(2026, 10, 1)), store_uri=str(store))
    mart = warehouse.query("SELECT nps, nps_moe FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'all' "
                           "AND period_start = DATE '2026-11-01'")[0]
    engine = warehouse.dialect
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 680, "height": 1000})
    seen = {}
    for audience, loc in (("all", "en"), ("all", "pl"), ("fintech", "en"), ("enterprise", "pl")):
        html = store / "monthly" / "2026-11" / audience / loc / "report.html"
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        assert page.eval_on_selector_all("img", BROKEN) == [], f"broken images in {html}"
        seen[(audience, loc)] = page.inner_text("body")
        cell = page.inner_text("td[data-kpi=nps]").splitlines()
        if audience == "all":
            assert page.eval_on_selector_all("img", "els => els.length") == 6
            # The scorecard's numbers are the marts' numbers for the period (23.08 ±23.61).
            sep = "," if loc == "pl" else "."
            assert cell[0] == f"{float(mart['nps']):.1f}".replace(".", sep)
            assert cell[1] == f"±{float(mart['nps_moe']):.1f} · n=52".replace(".", sep)
        page.screenshot(path=str(ARTIFACTS / f"report_monthly_{audience}_{loc}_{engine}.png"), full_page=True)
    assert "no significant change" in seen[("all", "en")] and "Scorecard" in seen[("all", "en")]
    assert "brak istotnej zmiany" in seen[("all", "pl")] and "Karta wyników" in seen[("all", "pl")]
    assert page.evaluate("document.documentElement.lang") == "pl"
    assert "not enough answers (n=12)" in seen[("fintech", "en")]
    assert "za mało odpowiedzi" in seen[("enterprise", "pl")]

    # The QBR owner page and the static index, whose every link opens an archived file.
    page.goto((store / "quarterly" / "2026-Q4" / "owners" / "alice_morgan" / "report.html").as_uri())
    assert "Account A1" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / f"report_qbr_owner_{engine}.png"), full_page=True)
    page.goto((store / "index.html").as_uri())
    hrefs = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert len(hrefs) >= 10 and all((store / h).is_file() for h in hrefs)
    assert "Monthly reports" in page.inner_text("body") and "November 2026" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / f"report_index_{engine}.png"), full_page=True)
    shutil.rmtree(store, ignore_errors=True)
