"""The response page through its HTTP interface: what it shows, what it records, what it refuses."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from nps.tokens import TokenSigner
from tests.web.helpers import NOW, SECRET, answers, config_dict, events, settings

SIGNER = TokenSigner(SECRET)
SENT = NOW - timedelta(days=2)


def client(tmp_path, **kw) -> TestClient:
    from nps.web.app import create_app

    return TestClient(create_app(settings(tmp_path, **kw)), base_url="http://127.0.0.1")


def form_of(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def test_get_shows_the_question_with_the_clicked_score_and_records_nothing(tmp_path):
    tok = SIGNER.sign("S-1", "nps", 9, SENT, "en")
    with client(tmp_path) as c:
        r = c.get("/s", params={"t": tok})
    assert r.status_code == 200
    html = r.text
    assert "How likely are you to recommend Acme Customer Success to a friend or colleague?" in html
    assert re.findall(r'value="(\d+)"[^>]*checked', html) == ["9"]
    assert len(re.findall(r'<input type="radio" name="score"', html)) == 11
    assert '<label class="comment-label" for="comment">' in html and '<button type="submit"' in html
    assert 'data-auto="1"' in html and '<script src="/static/app.js" defer></script>' in html
    assert " on" + "click" not in html and "<style" not in html and "style=" not in html
    assert r.headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
    assert answers(tmp_path / "landing") == []


@pytest.mark.parametrize(("stype", "answer", "scale", "question"), [
    pytest.param("csat", 4, list(range(1, 6)), "How satisfied are you with your recent experience", id="csat"),
    pytest.param("ces", 6, list(range(1, 8)), "Acme Customer Success made it easy for me to handle my issue.", id="ces"),
])
def test_csat_and_ces_variants(tmp_path, stype, answer, scale, question):
    with client(tmp_path) as c:
        html = c.get("/s", params={"t": SIGNER.sign("S-2", stype, answer, SENT, "en")}).text
    assert question in html
    assert [int(v) for v in re.findall(r'name="score" value="(\d+)"', html)] == scale
    assert re.findall(r'value="(\d+)"[^>]*checked', html) == [str(answer)]


def test_button_post_records_exactly_what_was_sent(tmp_path):
    tok = SIGNER.sign("S-1", "nps", 9, SENT, "pl")
    with client(tmp_path) as c:
        f = form_of(c.get("/s", params={"t": tok}).text)
        r = c.post("/s", data={**f, "score": "7", "comment": "  Obsługa <b>świetna</b>\r\nDziękuję  "})
        assert r.status_code == 200
        assert "<h1>Dziękujemy!</h1>" in r.text and "Twoja odpowiedź 7 została zapisana." in r.text
        change = re.search(r'href="([^"]+)">Zmień odpowiedź', r.text).group(1)
        assert change == f"/s?t={tok}&amp;edit=7"
        # "Change my answer" shows the sent score and does not post anything by itself.
        again = c.get("/s", params={"t": tok, "edit": "7"}).text
        assert re.findall(r'value="(\d+)"[^>]*checked', again) == ["7"] and 'data-auto="0"' in again
    assert answers(tmp_path / "landing") == [{
        "token": tok, "score": 7, "comment": "Obsługa <b>świetna</b>\nDziękuję",
        "responded_at": "2026-11-10T12:00:00.000000Z", "locale": "pl"}]


def test_changing_the_score_appends_a_later_answer(tmp_path):
    tok = SIGNER.sign("S-1", "nps", 9, SENT, "en")
    now = tmp_path / "now.txt"
    with client(tmp_path) as c:
        f = form_of(c.get("/s", params={"t": tok}).text)
        assert c.post("/s", data={**f, "score": "9"}).status_code == 200
        now.write_text((NOW + timedelta(minutes=3)).isoformat())
        assert c.post("/s", data={**f, "score": "6", "comment": "Actually, support was slow."}).status_code == 200
    got = [(a["score"], a["comment"], a["responded_at"]) for a in answers(tmp_path / "landing")]
    assert got == [(9, None, "2026-11-10T12:00:00.000000Z"), (6, "Actually, support was slow.", "2026-11-10T12:03:00.000000Z")]


def test_a_scanner_fetching_every_link_records_nothing_but_a_person_does(tmp_path):
    links = [SIGNER.sign("S-9", "nps", a, SENT, "en") for a in range(11)]
    # A 2 s window: eleven GETs through the test client on a busy CI machine may take over 1 s.
    with client(tmp_path, scanner_window=2.0) as c:
        page = c.app.state.page
        forms = [form_of(c.get("/s", params={"t": t}).text) for t in links]  # all eleven within a second
        # Even a scanner that runs the page's script: every automatic post is held and dropped.
        for a, f in enumerate(forms[:3]):
            r = c.post("/s", data={**f, "score": str(a), "auto": "1"}, headers={"accept": "application/json"})
            assert r.json() == {"recorded": False, "reason": "confirm"}
        assert answers(tmp_path / "landing") == []
        # A person who opens one link: the automatic post records the clicked score.
        one = SIGNER.sign("S-10", "nps", 8, SENT, "en")
        f = form_of(c.get("/s", params={"t": one}).text)
        t0 = time.monotonic()
        r = c.post("/s", data={**f, "score": "8", "auto": "1"}, headers={"accept": "application/json"})
        assert r.json() == {"recorded": True} and time.monotonic() - t0 >= 1.9  # held for the scanner window
        # And the button always records, even on a link the scanner fetched.
        assert c.post("/s", data={**forms[10], "score": "10"}).status_code == 200
        assert page.stats["scanner_ignored"] == 3
    assert [(a["token"], a["score"]) for a in answers(tmp_path / "landing")] == [(one, 8), (links[10], 10)]


def test_invitation_links_one_token_with_the_score_beside_it(tmp_path):
    """The links of a rendered invitation: one answer-less token, the score as ``&score=N``."""
    import html as html_mod

    from nps.config import parse_config
    from nps.email.render import merge, render_template, substitutions

    tmpl = render_template(parse_config(config_dict()), "csat", "pl")
    subs = substitutions(SIGNER, "S-5", "csat", "Anna", "Tatra Steel", SENT, "pl")
    links = [html_mod.unescape(u) for u in re.findall(r'<a href="(http://127\.0\.0\.1/s\?[^"]+)"', merge(tmpl.html, subs))]
    assert links == [f"http://127.0.0.1/s?t={subs['%nps_token%']}&score={a}" for a in range(1, 6)]
    with client(tmp_path) as c:
        for a, url in enumerate(links, start=1):
            page = c.get(url).text
            assert re.findall(r'value="(\d+)"[^>]*checked', page) == [str(a)] and 'data-auto="1"' in page
            assert "Jak bardzo jesteś zadowolony" in page  # the token's language
        f = form_of(c.get(links[3]).text)
        assert f["t"] == subs["%nps_token%"]
        assert c.post("/s", data={**f, "score": "4"}).status_code == 200
    assert [(a["token"], a["score"]) for a in answers(tmp_path / "landing")] == [(subs["%nps_token%"], 4)]


@pytest.mark.parametrize(("stype", "score"), [
    pytest.param("nps", "11", id="nps-11"), pytest.param("nps", "-1", id="nps-negative"),
    pytest.param("csat", "0", id="csat-0"), pytest.param("csat", "6", id="csat-6"), pytest.param("ces", "8", id="ces-8"),
    pytest.param("nps", "ten", id="words"), pytest.param("nps", "", id="empty"), pytest.param("nps", "٣", id="arabic-digit"),
])
def test_a_link_whose_score_is_off_the_scale_is_refused(tmp_path, stype, score):
    tok = SIGNER.sign("S-1", stype, None, SENT, "en")
    with client(tmp_path) as c:
        r = c.get("/s", params={"t": tok, "score": score})
    lo, hi = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[stype]
    assert r.status_code == 400
    assert "This link does not work" in r.text and f"not on the survey&#39;s scale ({lo} to {hi})" in r.text
    assert 'name="score"' not in r.text and answers(tmp_path / "landing") == []


def test_old_links_with_the_answer_inside_the_token_still_work_and_cannot_be_rescored(tmp_path):
    old = SIGNER.sign("S-1", "nps", 9, SENT, "en")  # sent before 2026-11-28: one token per answer
    with client(tmp_path) as c:
        assert re.findall(r'value="(\d+)"[^>]*checked', c.get("/s", params={"t": old}).text) == ["9"]
        assert re.findall(r'value="(\d+)"[^>]*checked', c.get("/s", params={"t": old, "score": "9"}).text) == ["9"]
        r = c.get("/s", params={"t": old, "score": "3"})  # the signed answer says 9
        assert r.status_code == 400 and "The link is incomplete or has been changed." in r.text
    assert answers(tmp_path / "landing") == []


def test_a_scanner_fetching_every_answer_link_of_one_token_records_nothing(tmp_path):
    tok = SIGNER.sign("S-9", "nps", None, SENT, "en")
    with client(tmp_path, scanner_window=2.0) as c:
        forms = [form_of(c.get("/s", params={"t": tok, "score": str(a)}).text) for a in range(11)]
        for a, f in enumerate(forms[:3]):
            r = c.post("/s", data={**f, "score": str(a), "auto": "1"}, headers={"accept": "application/json"})
            assert r.json() == {"recorded": False, "reason": "confirm"}
        assert c.app.state.page.stats["scanner_ignored"] == 3
    assert answers(tmp_path / "landing") == []


@pytest.mark.parametrize(("tamper", "status"), [
    pytest.param(lambda f: {**f, "csrf": ""}, 403, id="no-form-token"),
    pytest.param(lambda f: {**f, "csrf": f["csrf"][:-2] + "xx"}, 403, id="forged-form-token"),
    pytest.param(lambda f: {**f, "csrf": TokenSigner(SECRET) and "1.abc"}, 403, id="garbage-form-token"),
])
def test_posts_without_a_genuine_form_token_are_refused(tmp_path, caplog, tamper, status):
    tok = SIGNER.sign("S-1", "nps", 9, SENT, "en")
    with client(tmp_path) as c, caplog.at_level(logging.WARNING, logger="nps.web.security"):
        f = form_of(c.get("/s", params={"t": tok}).text)
        r = c.post("/s", data={**tamper(f), "score": "9"})
    assert r.status_code == status and "This page has expired" in r.text
    assert answers(tmp_path / "landing") == []
    assert any("security:" in m and "form token" in m for m in caplog.messages)


def test_form_token_of_another_survey_and_cross_site_posts_are_refused(tmp_path):
    tok1, tok2 = SIGNER.sign("S-1", "nps", 9, SENT, "en"), SIGNER.sign("S-2", "nps", 9, SENT, "en")
    with client(tmp_path) as c:
        f1, f2 = form_of(c.get("/s", params={"t": tok1}).text), form_of(c.get("/s", params={"t": tok2}).text)
        assert c.post("/s", data={**f1, "csrf": f2["csrf"], "score": "9"}).status_code == 403
        assert c.post("/s", data={**f1, "score": "9"}, headers={"origin": "https://evil.example"}).status_code == 403
        assert c.post("/s", data={**f1, "score": "9"}, headers={"sec-fetch-site": "cross-site"}).status_code == 403
        assert c.post("/s", data={**f1, "score": "9"}, headers={"origin": "http://127.0.0.1"}).status_code == 200
    assert len(answers(tmp_path / "landing")) == 1


def test_forged_token_friendly_page_security_log_nothing_recorded(tmp_path, caplog):
    good = SIGNER.sign("S-1", "nps", 9, SENT, "en")
    forged = good[:-1] + ("A" if good[-1] != "A" else "B")
    other = TokenSigner("an-attackers-secret-0123456789").sign("S-1", "nps", 10, SENT, "en")
    with client(tmp_path) as c, caplog.at_level(logging.INFO, logger="nps.web"):
        for t in (forged, other):
            r = c.get("/s", params={"t": t})
            assert r.status_code == 400 and "This link does not work" in r.text
            f = form_of(c.get("/s", params={"t": good}).text)
            assert c.post("/s", data={**f, "t": t, "score": "10"}).status_code == 400
        assert c.get("/s", params={"t": "v2.garbage"}).status_code == 400
        assert c.get("/s").status_code == 400
        assert c.app.state.page.stats["forged"] == 4
    assert answers(tmp_path / "landing") == []
    sec = [r for r in caplog.records if r.name == "nps.web.security"]
    assert len(sec) == 4 and all("forged or altered" in r.getMessage() for r in sec)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert good not in logged and forged not in logged and "127.0.0.1" not in logged and "testclient" not in logged


def test_expired_link_friendly_page_nothing_recorded_v1_still_works(tmp_path):
    old = SIGNER.sign("S-1", "nps", 9, NOW - timedelta(days=31), "pl")
    just = SIGNER.sign("S-2", "nps", 9, NOW - timedelta(days=29), "en")
    with client(tmp_path) as c:
        fresh_form = form_of(c.get("/s", params={"t": just}).text)
        r = c.get("/s", params={"t": old})
        assert r.status_code == 410 and "Ankieta została zamknięta" in r.text and "30 dni" in r.text
        assert c.post("/s", data={**fresh_form, "t": old, "score": "9"}).status_code in (403, 410)
        v1 = SIGNER.sign("S-3", "nps", 9)  # links sent before tokens carried a send time
        f = form_of(c.get("/s", params={"t": v1}).text)
        assert c.post("/s", data={**f, "score": "9"}).status_code == 200
        assert c.post("/s", data={**fresh_form, "score": "8"}).status_code == 200
    assert [a["score"] for a in answers(tmp_path / "landing")] == [9, 8]


@pytest.mark.parametrize(("token_locale", "accept", "expected"), [
    pytest.param("pl", "en-GB,en;q=0.9", "pl", id="token-wins"),
    pytest.param(None, "pl-PL,pl;q=0.9,en;q=0.5", "pl", id="accept-language"),
    pytest.param(None, "de-DE,fr;q=0.8,pl;q=0.3", "pl", id="accept-language-ranked"),
    pytest.param(None, "de-DE", "en", id="default"),
])
def test_language_from_token_then_accept_language(tmp_path, token_locale, accept, expected):
    tok = SIGNER.sign("S-1", "ces", 5, SENT, token_locale) if token_locale else SIGNER.sign("S-1", "ces", 5)
    with client(tmp_path) as c:
        html = c.get("/s", params={"t": tok}, headers={"accept-language": accept}).text
    assert f'<html lang="{expected}">' in html
    assert ("ułatwił(a) mi załatwienie" in html) == (expected == "pl")


def test_everything_is_escaped(tmp_path):
    tok = SIGNER.sign("S-1", "nps", 9, SENT, "en")
    with client(tmp_path, sender='Smith & <script>alert("x")</script>', comment_max=20) as c:
        page = c.get("/s", params={"t": tok}).text
        assert "<script>alert" not in page and "Smith &amp; &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        f = form_of(page)
        r = c.post("/s", data={**f, "score": "9", "comment": '<img src=x onerror="alert(1)">' * 2})
        assert r.status_code == 400 and "longer than 20 characters" in r.text
        assert "<img src=x" not in r.text and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in r.text
    assert answers(tmp_path / "landing") == []


def test_limits_size_score_and_rate(tmp_path):
    tok = SIGNER.sign("S-1", "csat", 4, SENT, "en")
    with client(tmp_path, rate_limit_per_token=2, max_request_bytes=2048) as c:
        f = form_of(c.get("/s", params={"t": tok}).text)
        big = c.post("/s", data={**f, "score": "4", "comment": "x" * 3000})
        assert big.status_code == 413 and answers(tmp_path / "landing") == []
        bad = c.post("/s", data={**f, "score": "9"})  # an NPS score on a CSAT survey
        assert bad.status_code == 400 and "between 1 and 5" in bad.text
        over = c.post("/s", data={**f, "score": "5"})  # the 3rd counted request for this survey in a minute (the 413 never reached the token)
        assert over.status_code == 429 and over.headers["retry-after"] == "60"
    assert answers(tmp_path / "landing") == []


def test_rate_limit_per_address(tmp_path):
    with client(tmp_path, rate_limit_per_address=3) as c:
        codes = [c.get("/s", params={"t": SIGNER.sign(f"S-{i}", "nps", 9, SENT, "en")}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]


def test_unsubscribe_confirmation_form_and_one_click(tmp_path):
    tok = SIGNER.sign("S-7", "nps", None, SENT, "pl")
    tok2 = SIGNER.sign("S-8", "csat", None, SENT, "en")
    with client(tmp_path) as c:
        page = c.get("/unsubscribe", params={"t": tok})
        assert page.status_code == 200 and "Wypisz się z ankiet" in page.text and events(tmp_path / "landing") == []
        f = form_of(page.text)
        assert c.post("/unsubscribe", data={**f, "csrf": "1.x"}).status_code == 403
        done = c.post("/unsubscribe", data=f)
        assert done.status_code == 200 and "Wypisano Cię z ankiet" in done.text
        # RFC 8058: the mailbox provider POSTs "List-Unsubscribe=One-Click" to the header's URL.
        one = c.post(f"/unsubscribe?t={tok2}", content=b"List-Unsubscribe=One-Click",
                     headers={"content-type": "application/x-www-form-urlencoded"})
        assert one.status_code == 200 and one.text == ""
    got = sorted(events(tmp_path / "landing"), key=lambda e: e["survey_id"])
    stamp = int((NOW - NOW.replace(year=1970, month=1, day=1, hour=0)).total_seconds())
    assert got == [
        {"event": "unsubscribe", "survey_id": "S-7", "timestamp": stamp, "sg_event_id": "web-unsubscribe-S-7",
         "source": "survey-web", "one_click": False},
        {"event": "unsubscribe", "survey_id": "S-8", "timestamp": stamp, "sg_event_id": "web-unsubscribe-S-8",
         "source": "survey-web", "one_click": True},
    ]
    assert not list((tmp_path / "landing" / "events").glob(".*"))  # no temporary files left


def test_health_static_and_not_found(tmp_path):
    with client(tmp_path) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        js = c.get("/static/app.js")
        assert js.status_code == 200 and js.headers["content-type"] == "text/javascript; charset=utf-8"
        assert c.get("/static/app.css").headers["content-type"] == "text/css; charset=utf-8"
        nf = c.get("/nothing-here")
        assert nf.status_code == 404 and "Page not found" in nf.text
        assert nf.headers["content-security-policy"].endswith("frame-ancestors 'none'")
        assert c.put("/s").status_code == 405


def test_messages_have_the_same_keys_in_every_locale():
    import yaml

    from nps.web.app import WEB_TEMPLATES_DIR

    msgs = yaml.safe_load((WEB_TEMPLATES_DIR / "messages.yaml").read_text(encoding="utf-8"))

    def keys(d: dict, prefix: str = "") -> set[str]:
        return {k2 for k, v in d.items() for k2 in (keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k})}

    assert keys(msgs["en"]) == keys(msgs["pl"])
