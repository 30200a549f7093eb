"""Simulated respondents for the demo: what a survey tool and SendGrid would deliver each day.

``simulate_day`` reads the invitations sent up to the end of a day and, deterministically (a
stable hash of survey_id and seed for every decision, no RNG state), decides who answers
(about a third), when (0–3 days after the send, during waking hours, never after the day's end),
the score (from the account's latent satisfaction, ``nps.demo.generator.satisfaction``, and the
contact's role, on the survey type's scale) and an optional comment in the contact's locale that
names churn-driver themes (detractors complain about support, pricing, bugs, delivery...;
promoters praise). It writes the answers given on that day to ``responses/<day>.csv`` (every third
day ``.jsonl``) and the day's SendGrid webhook events to ``events/<day>.json``: processed,
delivered, opens, clicks, about 2% bounces, a few unsubscribes and spam reports, and about 3%
duplicated events (the webhook retries). About 1% of answer rows are bad on purpose (a tampered
token, a score off the scale, a score in words) so the quarantine has something to show.
The same day and seed always write byte-identical files.

With ``web`` (a ``nps.demo.web.Respondent``, what ``make demo`` passes), the answers and the
unsubscribes go instead through the running response page over HTTP, from the links in the
outbox: the page writes them to the landing area as it would for a customer; the bad rows become
an edited link (refused and logged as forged) or an off-scale score (refused); and each day a link
scanner fetches every link of one email (nothing recorded). SendGrid's own events stay files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime, time, timedelta

from nps.config import SCORE_RANGES
from nps.demo.generator import satisfaction
from nps.ingest.landing import Landing
from nps.tokens import TokenSigner

ROLE_SHIFT = {"decision_maker": -0.05, "influencer": 0.0, "user": 0.03}
COMPLAINTS = {
    "support": {"en": ["Support is slow, nobody answered my ticket for a week.", "The helpdesk response time is far too long."],
                "pl": ["Wsparcie działa wolno, nikt nie odpowiedział na zgłoszenie przez tydzień.", "Obsługa klienta odpowiada za późno."]},
    "pricing": {"en": ["The price went up again and the invoices are confusing.", "Too expensive for what we get, billing errors every month."],
                "pl": ["Cena znowu wzrosła, a faktury są niejasne.", "Za drogo jak na to, co dostajemy."]},
    "technical": {"en": ["Another outage this month, the app is slow and keeps crashing.", "Too many bugs after the last release."],
                  "pl": ["Kolejna awaria w tym miesiącu, system działa wolno.", "Za dużo błędów po ostatniej aktualizacji."]},
    "delivery": {"en": ["The delivery was late again and the shipment was incomplete.", "Shipping delays hurt our production."],
                 "pl": ["Dostawa znowu była opóźniona.", "Opóźnienia w dostawach blokują naszą produkcję."]},
    "onboarding": {"en": ["Onboarding took months and the setup was painful.", "Implementation was harder than promised, no training."],
                   "pl": ["Wdrożenie trwało miesiącami, konfiguracja była trudna.", "Brak szkoleń przy uruchomieniu."]},
    "features": {"en": ["Key features are missing, the integration with our ERP is weak.", "Still missing functionality from the roadmap."],
                 "pl": ["Brakuje kluczowych funkcji i integracji z ERP.", "Wciąż brakuje funkcji z planu rozwoju."]},
    "communication": {"en": ["No one told us about the changes, communication is poor.", "We are never informed about incidents."],
                      "pl": ["Komunikacja jest słaba, nikt nas nie informował o zmianach.", "Nie jesteśmy informowani o awariach."]},
    "engagement": {"en": ["We never hear from our account manager.", "No relationship at all, nobody checks in."],
                   "pl": ["Nasz opiekun w ogóle się nie odzywa.", "Brak zaangażowania z waszej strony."]},
    "value": {"en": ["Not worth the money, we don't see the value.", "Hard to justify the ROI to our board."],
              "pl": ["Nie warto, nie widzimy wartości.", "Trudno uzasadnić, że to się opłaca."]},
    "competition": {"en": ["A competitor offered us the same cheaper elsewhere.", "We are looking at an alternative."],
                    "pl": ["Konkurencja oferuje to samo taniej.", "Rozważamy alternatywę."]},
}
PRAISE = {"en": ["Great support team, always quick to help.", "Reliable product, the onboarding was smooth.",
                 "Excellent value, our account manager is fantastic.", "Everything works, delivery always on time."],
          "pl": ["Świetny zespół wsparcia, zawsze szybko pomaga.", "Niezawodny produkt, wdrożenie przebiegło sprawnie.",
                 "Bardzo dobra wartość, nasz opiekun jest fantastyczny.", "Wszystko działa, dostawy zawsze na czas."]}
NEUTRAL = {"en": ["Good overall, but the pricing could be clearer.", "Fine, though support response time varies.",
                  "Works for us; some features are still missing."],
           "pl": ["Ogólnie dobrze, ale cennik mógłby być jaśniejszy.", "W porządku, choć czas odpowiedzi wsparcia bywa różny.",
                  "Działa, ale brakuje kilku funkcji."]}
# Themes detractors raise more often per industry (the demo's story).
INDUSTRY_THEMES = {"Telecommunications": ["support", "technical", "pricing", "communication"],
                   "Manufacturing": ["delivery", "support", "technical"], "Retail": ["delivery", "pricing"],
                   "SaaS": ["features", "onboarding", "technical"], "Fintech": ["pricing", "support", "features"],
                   "Hospitality": ["support", "value", "engagement"]}


def _u(seed: int, salt: str, key: str) -> float:
    """A stable uniform draw in [0, 1) for (seed, salt, key)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{salt}:{key}".encode()).digest()[:8], "big") / 2**64


def _pick(options: list, u: float):  # noqa: ANN202
    return options[min(int(u * len(options)), len(options) - 1)]


def _score(stype: str, x: float) -> int:
    lo, hi = SCORE_RANGES[stype]
    return lo + round(x * (hi - lo))


def _mood(stype: str, score: int) -> str:
    if stype == "nps":
        return "neg" if score <= 6 else "mid" if score <= 8 else "pos"
    if stype == "csat":
        return "neg" if score <= 2 else "mid" if score == 3 else "pos"
    return "neg" if score <= 3 else "mid" if score == 4 else "pos"


def _answer_time(sent_at: datetime, delay: int, u: float) -> datetime | None:
    for extra in range(2):
        base = sent_at.date() + timedelta(days=delay + extra)
        start = max(datetime.combine(base, time(7, 0)), sent_at + timedelta(minutes=10))
        end = datetime.combine(base, time(22, 30))
        if start < end:
            return (start + (end - start) * u).replace(microsecond=0)
    return None


def _comment(inv: dict, stype: str, score: int, seed: int) -> str | None:
    sid, loc = inv["survey_id"], inv["locale"] if inv["locale"] in ("en", "pl") else "en"
    mood = _mood(stype, score)
    if _u(seed, "comment", sid) > {"neg": 0.7, "mid": 0.35, "pos": 0.45}[mood]:
        return None
    if mood == "pos":
        return _pick(PRAISE[loc], _u(seed, "text", sid))
    if mood == "mid":
        return _pick(NEUTRAL[loc], _u(seed, "text", sid))
    themes = INDUSTRY_THEMES.get(inv["industry"] or "", []) if _u(seed, "story", sid) < 0.6 else []
    theme = _pick(themes or sorted(COMPLAINTS), _u(seed, "theme", sid))
    return _pick(COMPLAINTS[theme][loc], _u(seed, "text", sid))


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(dt: datetime) -> int:
    return int((dt - datetime(1970, 1, 1)).total_seconds())


def simulate_day(warehouse, landing_uri: str, day: date, secret: str, seed: int = 7, web=None) -> dict[str, int]:  # noqa: ANN001
    """Write the day's answers and email events into the landing area; returns counts."""
    signer = TokenSigner(secret)
    day_start = datetime.combine(day, time(0, 0))
    day_end = day_start + timedelta(days=1)
    invitations = warehouse.query(warehouse.read_sql("ingest/demo_sent_invitations").rstrip().rstrip(";"),
                                  {"since": day_start - timedelta(days=5), "day_end": day_end})
    answers: list[dict] = []
    events: list[dict] = []
    bad = 0
    for inv in invitations:
        sid, stype, sent_at = inv["survey_id"], inv["survey_type"], inv["sent_at"]
        if stype not in SCORE_RANGES or sent_at is None:
            continue
        bounced = _u(seed, "bounce", sid) < 0.02
        dropped = not bounced and _u(seed, "drop", sid) < 0.003
        sat = satisfaction(inv["account_id"], inv["industry"] or "", seed)
        answers_it = not (bounced or dropped) and _u(seed, "answer", sid) < 0.2 + 0.2 * sat
        when = _answer_time(sent_at, int(_u(seed, "delay", sid) * 4), _u(seed, "hour", sid)) if answers_it else None
        if when is not None and day_start <= when < day_end:
            x = min(1.0, max(0.0, sat + ROLE_SHIFT.get(inv["role"] or "", 0.0) + (_u(seed, "score", sid) - 0.5) * 0.5))
            score = _score(stype, x)
            lo, hi = SCORE_RANGES[stype]
            clicked = score if _u(seed, "clicked", sid) > 0.1 else min(hi, max(lo, score + 1))
            # The page records the link's token: one answer-less token per invitation (the link
            # carries the clicked score beside it).
            row = {"token": signer.sign(sid, stype), "score": str(score),
                   "comment": _comment(inv, stype, score, seed), "responded_at": _ts(when), "locale": inv["locale"]}
            if web is not None:
                row.update(send_key=inv["send_key"], clicked=clicked, when=when, bad_kind=None)
            u_bad = _u(seed, "bad", sid)
            if u_bad < 0.01:
                bad += 1
                kind = int(_u(seed, "badkind", sid) * 3)
                if web is not None:
                    row["bad_kind"] = kind
                if kind == 0:  # someone edited the link
                    t = row["token"]
                    row["token"] = t[:-1] + ("A" if t[-1] != "A" else "B")
                elif kind == 1:
                    row["score"] = str(hi + 1)
                else:
                    row["score"] = "ten" if inv["locale"] != "pl" else "dziesięć"
            answers.append(row)
        if day_start <= sent_at < day_end:
            events.extend(_events(inv, sent_at, day_end, bounced, dropped, answers_it, seed, web is not None))
            if web is not None and not (bounced or dropped) and _u(seed, "unsub", sid) < 0.006:
                web.unsubscribe(inv["send_key"], min(sent_at + timedelta(hours=2), day_end - timedelta(seconds=1)),
                                one_click=_u(seed, "oneclick", sid) < 0.5)
    if web is not None:
        return _through_the_page(web, invitations, answers, day_start, day_end, bad, len(events), events, landing_uri,
                                 day)
    answers.sort(key=lambda r: (r["responded_at"], r["token"]))
    root = Landing(landing_uri).root
    if answers:
        jsonl = day.toordinal() % 3 == 0
        name = f"responses/{day.isoformat()}.{'jsonl' if jsonl else 'csv'}"
        (root / "responses").mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(_jsonl(answers) if jsonl else _csv(answers))
    if events:
        events.sort(key=lambda e: (e["timestamp"], e["sg_event_id"], e["event"]))
        (root / "events").mkdir(parents=True, exist_ok=True)
        (root / f"events/{day.isoformat()}.json").write_bytes(
            (json.dumps(events, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8"))
    return {"responses": len(answers), "bad_rows": bad, "events": len(events)}


def _events(inv: dict, sent_at: datetime, day_end: datetime, bounced: bool, dropped: bool, answered: bool,
            seed: int, web: bool = False) -> list[dict]:
    sid = inv["survey_id"]
    last = day_end - timedelta(seconds=1)

    def ev(kind: str, at: datetime, **extra) -> dict:
        eid = hashlib.sha256(f"{seed}:{sid}:{kind}".encode()).hexdigest()[:22]
        return {"email": inv["email"] or f"{inv['contact_id'].lower()}@unknown.example.com", "event": kind,
                "timestamp": _epoch(min(at, last)), "sg_event_id": eid, "sg_message_id": inv["provider_message_id"] or "",
                "send_key": inv["send_key"], "survey_id": sid, "category": ["nps-program", inv["survey_type"]], **extra}

    if dropped:
        out = [ev("dropped", sent_at + timedelta(seconds=1), reason="Bounced Address")]
    else:
        out = [ev("processed", sent_at + timedelta(seconds=1))]
        if bounced:
            out.append(ev("bounce", sent_at + timedelta(seconds=20), reason="550 5.1.1 The email account does not exist",
                          type="bounce", status="5.1.1"))
        else:
            out.append(ev("delivered", sent_at + timedelta(seconds=5 + int(_u(seed, "dlv", sid) * 55)), response="250 OK"))
            if answered or _u(seed, "open", sid) < 0.45:
                opened = sent_at + timedelta(minutes=5 + int(_u(seed, "opened", sid) * 175))
                out.append(ev("open", opened, useragent="Mozilla/5.0"))
                if answered:
                    out.append(ev("click", opened + timedelta(minutes=1), url="https://feedback.example.com/s"))
            u = _u(seed, "unsub", sid)
            if u < 0.006:
                if not web:  # with the response page, people unsubscribe there (simulate_day)
                    out.append(ev("unsubscribe", sent_at + timedelta(hours=2)))
            elif u < 0.009:
                out.append(ev("spamreport", sent_at + timedelta(hours=2)))
    dupes = [e for e in out if _u(seed, f"dup:{e['event']}", sid) < 0.03]
    return out + dupes


def _through_the_page(web, invitations: list[dict], answers: list[dict], day_start: datetime, day_end: datetime,  # noqa: ANN001
                      bad: int, n_events: int, events: list[dict], landing_uri: str, day: date) -> dict[str, int]:
    """The day's answers over HTTP in time order, a link scanner on the day's first invitation,
    and SendGrid's events as a file; the page writes the answers."""
    recorded_before = web.counts["recorded"]
    firsts = sorted((i for i in invitations if i["sent_at"] is not None and day_start <= i["sent_at"] < day_end),
                    key=lambda i: (i["sent_at"], i["survey_id"]))
    if firsts:
        web.scan(firsts[0]["send_key"], firsts[0]["sent_at"] + timedelta(minutes=1))
    for row in sorted(answers, key=lambda r: (r["when"], r["send_key"])):
        score = int(row["score"]) if str(row["score"]).lstrip("-").isdigit() else 0
        web.answer(row["send_key"], row["clicked"], score, row["comment"], row["when"], bad=row["bad_kind"],
                   lang=row["locale"] or "en")
    if events:
        events.sort(key=lambda e: (e["timestamp"], e["sg_event_id"], e["event"]))
        root = Landing(landing_uri).root
        (root / "events").mkdir(parents=True, exist_ok=True)
        (root / f"events/{day.isoformat()}.json").write_bytes(
            (json.dumps(events, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8"))
    web.flush()
    return {"responses": web.counts["recorded"] - recorded_before, "bad_rows": bad, "events": n_events}


def _csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["token", "score", "comment", "responded_at", "locale"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _jsonl(rows: list[dict]) -> bytes:
    out = []
    for r in rows:
        obj = dict(r)
        obj["score"] = int(obj["score"]) if obj["score"].lstrip("-").isdigit() else obj["score"]
        out.append(json.dumps(obj, ensure_ascii=False, sort_keys=True))
    return ("\n".join(out) + "\n").encode("utf-8")
