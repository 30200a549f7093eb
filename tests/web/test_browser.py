"""The response page as a person uses it: headless Chromium (Debian's), driven by Playwright.

From a real outbox ``.eml`` to the marts: open the invitation's link, the clicked score is saved,
change it with the keyboard, write a comment in Polish, send; ingestion and the marts count it
with its comment. Screenshots of every page in both languages at desktop and 360 px widths go to
``test-artifacts/web/`` (git-ignored) for a person to look at.

Chromium comes from Debian (``scripts/install-browser.sh``, called by CI); Playwright never
downloads a browser. Without /usr/bin/chromium these tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import email
import html
import os
import re
import time
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
import yaml

from nps.tokens import TokenSigner
from tests.web.helpers import ROOT, SECRET, config_dict, server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "web"
SIGNER = TokenSigner(SECRET)
MESSAGES = yaml.safe_load((ROOT / "include/templates/web/messages.yaml").read_text(encoding="utf-8"))
COMMENT_PL = "Wsparcie odpowiada zbyt wolno, ale wdrożenie było sprawne. Dziękuję – „świetny” zespół!"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must run scripts/install-browser.sh")
        pytest.skip(f"{CHROMIUM} is missing (scripts/install-browser.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _links(eml: Path) -> tuple[str, dict[int, str], str]:
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = msg.get_body(("html",)).get_content()
    scores = {int(n): html.unescape(u) for u, n in re.findall(r'<a href="([^"]+)"[^>]*>(\d+)</a>', body)}
    unsub = msg["List-Unsubscribe"].strip("<>")
    return msg["X-NPS-Survey-Id"], scores, unsub


def test_from_the_outbox_to_the_marts(browser, warehouse, tmp_path, monkeypatch):
    from nps.config import parse_config
    from nps.dispatch import dispatch_invitations
    from nps.email.outbox import OutboxTransport
    from nps.ingest.events import ingest_events
    from nps.ingest.landing import Landing
    from nps.ingest.load import ingest_responses
    from nps.marts import rebuild
    from tests.dispatch.test_dispatch import START, seed_cohort

    monkeypatch.delenv("NPS_FAKE_NOW", raising=False)
    wh = warehouse
    seed_cohort(wh, n_en=1, n_pl=1)  # S00000 (en) and S00001 (pl), relationship NPS
    landing = tmp_path / "landing"
    with server(tmp_path, landing=landing) as (base, _proc):
        data = config_dict()
        data["program"]["survey_base_url"] = f"{base}/s"
        data["program"]["unsubscribe_url"] = f"{base}/unsubscribe"
        cfg = parse_config(data)
        outbox = tmp_path / "outbox"
        res = dispatch_invitations(wh, cfg, SIGNER, OutboxTransport(outbox), START, "manual__e2e")
        assert res.sent == 2
        emls = {(_links(p)[0]): p for p in outbox.rglob("*.eml")}
        survey_id, links, _ = _links(emls["S00001"])
        assert sorted(links) == list(range(11)) and all(u.startswith(f"{base}/s?t=v2.") for u in links.values())

        ctx = browser.new_context(locale="pl-PL", viewport={"width": 360, "height": 800})
        page = ctx.new_page()
        page.goto(links[9])
        assert page.locator("html").get_attribute("lang") == "pl"
        assert page.locator("input[name=score]:checked").get_attribute("value") == "9"
        # The page's script records the clicked score at once (after the scanner window).
        page.locator("#status", has_text="zapisana").wait_for(timeout=10_000)
        # Keyboard only: Tab to the score group, arrows to 6, Tab to the comment, Tab to the button.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.name") == "score"
        for _ in range(3):
            page.keyboard.press("ArrowLeft")
        assert page.locator("input[name=score]:checked").get_attribute("value") == "6"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "comment"
        page.keyboard.type(COMMENT_PL)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Wyślij odpowiedź"
        page.keyboard.press("Enter")
        # Wait for the thank-you page itself: right after the key press the question page is
        # still the loaded one (under load the durable write takes a moment).
        page.locator("h1", has_text="Dziękujemy!").wait_for(timeout=10_000)
        assert "Twoja odpowiedź 6 została zapisana." in page.inner_text("main")
        ctx.close()
        deadline = time.monotonic() + 15
        while not list((landing / "responses").glob("web-*.jsonl")) or list((landing / "responses").glob(".web-*")):
            assert time.monotonic() < deadline, "the page never published its answer file"
            time.sleep(0.1)

    ev = ingest_events(wh, Landing(str(landing)))
    loaded = ingest_responses(wh, Landing(str(landing)), secret=SECRET, config=cfg)
    assert ev == [] and sum(r.rows_loaded for r in loaded) == 2 and sum(r.rows_quarantined for r in loaded) == 0
    rebuild(wh, datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1), cfg)
    fct = wh.query("SELECT survey_id, score, category, comment, answers_received, locale FROM marts.fct_survey_responses")
    assert [(r["survey_id"], r["score"], r["category"], r["comment"], r["answers_received"], r["locale"]) for r in fct] == [
        ("S00001", 6, "detractor", COMMENT_PL, 2, "pl")]
    month = datetime.now(UTC).date().replace(day=1)
    nps = wh.query("SELECT responses, detractors, nps FROM marts.mart_nps WHERE period_grain = 'month' "
                   "AND dimension = 'all' AND period_start = :m", {"m": month})
    assert [(r["responses"], r["detractors"], float(r["nps"])) for r in nps] == [(1, 1, -100.0)]


PAGES = ["question", "thanks", "invalid", "expired", "unsubscribe", "unsubscribed"]


def test_screenshots_of_every_page_in_both_languages(browser, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(tzinfo=None)
    shots = []
    with server(tmp_path) as (base, _proc):
        for locale in ("en", "pl"):
            for name, size in (("desktop", {"width": 1280, "height": 900}), ("mobile", {"width": 360, "height": 740})):
                ctx = browser.new_context(locale=f"{locale}-{locale.upper()}", viewport=size)
                page = ctx.new_page()
                sid = f"S-shot-{locale}-{name}"
                tok = SIGNER.sign(sid, "nps", 9, now, locale)

                def shot(kind: str, page=page, locale=locale, name=name) -> None:  # noqa: ANN001
                    path = ARTIFACTS / f"{kind}-{locale}-{name}.png"
                    page.screenshot(path=str(path), full_page=True)
                    # Nothing overflows sideways at 360 px.
                    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], path
                    shots.append(path)

                page.goto(f"{base}/s?t={tok}")
                page.locator("#status", has_text="9").wait_for(timeout=10_000)
                page.fill("#comment", "Świetne wsparcie" if locale == "pl" else "Great support, thank you")
                page.locator("label.score").nth(8).click()
                page.wait_for_timeout(300)
                shot("question")
                page.get_by_role("button").click()
                page.locator("h1", has_text=MESSAGES[locale]["thanks_title"]).wait_for(timeout=10_000)
                shot("thanks")
                page.goto(f"{base}/s?t={tok[:-3]}abc")
                shot("invalid")
                page.goto(f"{base}/s?t={SIGNER.sign(sid, 'csat', 4, now - timedelta(days=45), locale)}")
                shot("expired")
                page.goto(f"{base}/unsubscribe?t={SIGNER.sign(sid, 'nps', None, now, locale)}")
                shot("unsubscribe")
                page.get_by_role("button").click()
                page.locator("h1", has_text=MESSAGES[locale]["unsub_done_title"]).wait_for(timeout=10_000)
                shot("unsubscribed")
                ctx.close()
    assert len(shots) == len(PAGES) * 4 and all(p.stat().st_size > 5000 for p in shots)
