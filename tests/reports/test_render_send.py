"""Rendering, archiving and sending the November report of the hand-made fixture, on both engines."""

from __future__ import annotations

import email
import json
from datetime import date
from email import policy

import pytest

from nps.email.outbox import OutboxTransport
from nps.reports.periods import period_of
from nps.reports.send import recipient_hash
from nps.reports.stage import render_and_archive, send_planned
from tests.reports.helpers import build_fixture, config_with

NOV = period_of("monthly", date(2026, 11, 1))


@pytest.fixture
def built(warehouse, program_config):
    config = config_with(program_config)
    build_fixture(warehouse, config)
    return warehouse, config


def _rendered(produced, audience: str, locale: str):
    return next(r for r in produced.rendered if r.audience == audience and r.locale == locale)


def test_render_archive_and_send_exactly_once(built, tmp_path):
    wh, config = built
    store = tmp_path / "reports"
    produced = render_and_archive(wh, config, NOV, store_uri=str(store))
    assert produced.archive_error is None
    assert sorted((r.audience, r.locale) for r in produced.rendered) == [
        ("all", "en"), ("all", "pl"), ("enterprise", "pl"), ("fintech", "en"), ("retail", "en")]

    company = _rendered(produced, "all", "en")
    assert company.subject == "Monthly customer feedback report · November 2026 · NPS 23.1 (no significant change)"
    lines = company.text.splitlines()
    assert "- Net Promoter Score: 45.0 | 25.0 | 23.1 ±23.6 (n=52) | 65.0 | no significant change (-1.9 pts) | -110%" in lines
    assert "- Customer Satisfaction (% 4–5): 80.0% | – | no answers in this period | 90.0% | – | –" in lines
    assert "- Customer Effort Score (mean 1–7): 5.00 | – | no answers in this period | – | – | –" in lines
    assert "- Customer Effort Score (mean 1–7) has no target in the program config: progress to target cannot be shown." in lines
    assert "- Customer retention: 85.0% | – | not enough answers (n=3) | 92.0% | – | –" in lines
    assert "Reading: NPS 23.1 - healthy mix. Recommended action: develop strategies to increase promoters." in lines
    assert company.csv.decode().splitlines()[:2] == [
        "kpi,label,unit,status,n,baseline,previous,current,target,change,moe_95,significant,verdict,progress_to_target_pct,note",
        "nps,Net Promoter Score,pts,ok,52,45.00,25.00,23.08,65.00,-1.92,23.61,false,no_significant_change,-109.6,",
    ]
    # Inlined CSS, images by Content-ID in the email and by file name in the archive.
    assert "<style" not in company.html_email and 'src="cid:nps_trend"' in company.html_email
    assert 'src="nps_trend.png"' in company.html_archive and "cid:" not in company.html_archive
    # "no significant change" is grey, never green or red.
    cell = company.html_email.split("no significant change (-1.9 pts)</td>")[0].rsplit("<td", 1)[1]
    assert "#4b5563" in cell and "#15803d" not in cell and "#b91c1c" not in cell
    assert "not enough answers (n=12)" in _rendered(produced, "fintech", "en").text
    assert "No answers from industry = Retail in the marts for this period." in _rendered(produced, "retail", "en").text
    pl = _rendered(produced, "all", "pl")
    assert "brak istotnej zmiany (-1,9 pkt)" in pl.text and "za mało odpowiedzi (n=3)" in pl.text

    # The archive: every report with its files, and an index that links them.
    folder = store / "monthly" / "2026-11" / "all" / "en"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["report.html", "email.html", "report.txt", "scorecard.csv", "meta.json", "nps_trend.png", "categories.png",
         "response_rate.png", "nps_by_industry.png", "nps_by_segment.png", "risks.png"])
    index = (store / "index.html").read_text(encoding="utf-8")
    assert index.count('href="monthly/2026-11/') == 10  # 5 reports, each with its csv link

    # Sending: one message per report and recipient; the malformed address is skipped and named.
    outbox = OutboxTransport(tmp_path / "outbox")
    result, planned = send_planned(wh, config, NOV, outbox, run_id="r1", store_uri=str(store))
    assert planned.skipped == ["reports.recipients.monthly[2]"]
    assert (result.sent, result.already_sent, result.errors) == (5, 0, [])
    keys = sorted(m.send_key for m in planned.messages)
    assert f"report/monthly/2026-11/all/{recipient_hash('vp@example.com')}" in keys
    assert not any("@" in k for k in keys)
    eml = tmp_path / "outbox" / "reports_monthly_2026-11" / f"report_monthly_2026-11_all_{recipient_hash('vp@example.com')}.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Subject"] == company.subject and msg["To"] == "VP <vp@example.com>"
    parts = {(p.get_content_type(), p.get("Content-ID"), p.get_filename()) for p in msg.walk() if not p.is_multipart()}
    assert ("image/png", "<nps_trend>", "nps_trend.png") in parts and ("text/csv", None, "scorecard.csv") in parts
    assert msg.get_body(("plain",)).get_content().startswith("Monthly customer feedback report - November 2026")
    assert len([p for p in parts if p[0] == "image/png"]) == 6

    # A rerun sends nothing twice; resend=true sends again.
    again, _ = send_planned(wh, config, NOV, outbox, run_id="r2", store_uri=str(store))
    assert (again.sent, again.already_sent) == (0, 5)
    forced, _ = send_planned(wh, config, NOV, outbox, run_id="r3", store_uri=str(store), resend=True)
    assert (forced.sent, forced.already_sent) == (5, 0)
    retried, _ = send_planned(wh, config, NOV, outbox, run_id="r3", store_uri=str(store), resend=True)
    assert (retried.sent, retried.already_sent) == (0, 5)  # a retry of the resending run sends nothing twice
    ledger = wh.query("SELECT kind, scope, status, sends, COUNT(*) AS n FROM ops.message_ledger "
                      "GROUP BY kind, scope, status, sends")
    assert ledger == [{"kind": "report", "scope": "report/monthly/2026-11", "status": "sent", "sends": 2, "n": 5}]


def test_missing_archive_location_still_sends_and_says_so(built, tmp_path):
    wh, config = built
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should be")
    produced = render_and_archive(wh, config, NOV, store_uri=str(blocker / "reports"))
    assert produced.archive_error and "cannot write" in produced.archive_error and produced.archived == []
    result, planned = send_planned(wh, config, NOV, OutboxTransport(tmp_path / "outbox"), run_id="r1", store_uri=str(blocker / "reports"),
                                   archive_error=produced.archive_error)
    assert result.sent == 5
    m = next(m for m in planned.messages if m.audience == "all" and m.locale == "en")
    assert "This report could not be archived (cannot write" in m.text
    assert "this email is the only copy" in m.html


def test_sendgrid_payloads(built, tmp_path):
    from nps.email.sendgrid import SendGridHook
    from tests.support.sendgrid_server import FakeSendGrid

    wh, config = built
    render_and_archive(wh, config, NOV, store_uri=str(tmp_path / "reports"))
    with FakeSendGrid(api_key="SG.test-key") as sg:
        hook = SendGridHook("SG.test-key", host=sg.url, timeout=10, max_retries=0)
        result, planned = send_planned(wh, config, NOV, hook, run_id="r1", store_uri=str(tmp_path / "reports"))
        rerun, _ = send_planned(wh, config, NOV, hook, run_id="r1", store_uri=str(tmp_path / "reports"))
    assert (result.sent, result.batches, len(sg.accepted)) == (5, 5, 5)
    assert (rerun.sent, rerun.already_sent, len(sg.requests)) == (0, 5, 5)  # through SendGrid too: exactly once
    body = next(b for b in sg.accepted if b["custom_args"]["batch_id"] == "monthly.2026-11.all.en.000")
    assert body["categories"] == ["nps-report", "monthly", "en"]
    assert [p["to"] for p in body["personalizations"]] == [[{"email": "vp@example.com", "name": "VP"}]]
    assert body["personalizations"][0]["custom_args"]["send_key"] == f"report/monthly/2026-11/all/{recipient_hash('vp@example.com')}"
    inline = [a for a in body["attachments"] if a["disposition"] == "inline"]
    assert sorted(a["content_id"] for a in inline) == sorted(
        ["nps_trend", "categories", "response_rate", "nps_by_industry", "nps_by_segment", "risks"])
    assert all(a["type"] == "image/png" and a["filename"] == a["content_id"] + ".png" for a in inline)
    assert [(a["filename"], a["type"]) for a in body["attachments"] if a["disposition"] == "attachment"] == [("scorecard.csv", "text/csv")]
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


def test_quarterly_pack_has_owner_pages(built, tmp_path):
    wh, config = built
    q4 = period_of("quarterly", date(2026, 10, 1))
    produced = render_and_archive(wh, config, q4, store_uri=str(tmp_path / "reports"))
    assert [p.owner for p in produced.owner_pages] == ["Alice Morgan"]
    page = produced.owner_pages[0]
    assert "Account A1" in page.html and "Account A3" in page.html and "A1-C039 (decision_maker)" in page.html
    assert "+ 30 more answers this quarter" in page.html  # the newest 10 of 40 are listed
    meta = json.loads((tmp_path / "reports" / "quarterly" / "2026-Q4" / "owners" / "alice_morgan" / "meta.json").read_text())
    assert meta["page"] == "owner"
    result, planned = send_planned(wh, config, q4, OutboxTransport(tmp_path / "outbox"), run_id="r1", store_uri=str(tmp_path / "reports"))
    owners = [m for m in planned.messages if m.audience.startswith("owner-")]
    assert [(m.email, m.config_key) for m in owners] == [("alice.morgan@example.com", "reports.qbr.owners['Alice Morgan']")]
    assert result.sent == len(planned.messages) == 2  # vp@example.com and the owner


def test_send_renders_only_what_the_archive_lacks(built, tmp_path):
    wh, config = built
    store = tmp_path / "reports"
    render_and_archive(wh, config, NOV, store_uri=str(store))
    (store / "monthly" / "2026-11" / "fintech" / "en" / "email.html").unlink()
    from nps.reports.stage import plan_all

    planned, counts = plan_all(wh, config, NOV, store_uri=str(store))
    assert counts == {"from_archive": 4, "rendered": 1}
    assert len(planned.messages) == 5
    only, counts = plan_all(wh, config, NOV, store_uri=str(store), only="retail")
    assert (counts, [m.audience for m in only.messages]) == ({"from_archive": 1, "rendered": 0}, ["retail"])
