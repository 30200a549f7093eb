"""Deterministic generator of a believable B2B customer base (the demo's and benchmarks' ``src``).

Accounts in every configured industry with segment, region, ARR, an account manager and a
contract history that includes churn; contacts in roles (decision maker, influencer, user) with
locale, email and consent; touchpoint events over time. Each account has a latent satisfaction
(``satisfaction``) that drives both its churn here and its simulated answers later
(``nps.demo.respondents``), so churn analysis finds something real. The same seed gives the same
data; the code is vectorised, so it scales to 1,000,000 contacts for benchmarks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from nps.config import ProgramConfig

SEGMENTS = np.array(["SMB", "Mid-Market", "Enterprise"])
SEGMENT_P = [0.55, 0.33, 0.12]
SEGMENT_CONTACTS = {"SMB": 2.5, "Mid-Market": 5.0, "Enterprise": 10.0}
SEGMENT_ARR = {"SMB": (9.5, 0.5), "Mid-Market": (11.0, 0.5), "Enterprise": (12.6, 0.6)}  # lognormal
REGIONS = np.array(["EMEA", "North America", "APAC", "LATAM"])
REGION_P = [0.45, 0.30, 0.15, 0.10]
ROLES = np.array(["decision_maker", "influencer", "user"])
# How each industry tends to feel about us: the demo's story (Telecom struggles, SaaS thrives).
INDUSTRY_MOOD = {
    "Retail": 0.62,
    "SaaS": 0.74,
    "Hospitality": 0.66,
    "Telecommunications": 0.48,
    "Manufacturing": 0.57,
    "Fintech": 0.70,
}
# Expected events per account per 30 days, by touchpoint; contact-level ones name one person.
TOUCHPOINT_RATE = {
    "support_ticket_closed": 0.8,
    "support_interaction": 0.8,
    "support_contact": 0.6,
    "product_delivered": 0.7,
    "stay_completed": 0.9,
    "onboarding_completed": 0.08,
    "major_release": 0.25,
    "major_service_action": 0.2,
    "major_transaction": 0.5,
    "plan_change": 0.15,
    "renewal": 0.0,  # generated from contracts instead
    "purchase": 0.15,
}
CONTACT_LEVEL = {"support_ticket_closed", "support_interaction", "support_contact", "major_transaction", "stay_completed"}
DEFAULT_RATE = 0.2

FIRST_EN = np.array(["James", "Mary", "John", "Linda", "Robert", "Susan", "Michael", "Karen", "David", "Emily",
                     "Daniel", "Sarah", "Thomas", "Laura", "Mark", "Olivia", "Paul", "Grace", "Kevin", "Chloe"])
LAST_EN = np.array(["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Walker",
                    "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Carter"])
FIRST_PL = np.array(["Anna", "Piotr", "Katarzyna", "Krzysztof", "Małgorzata", "Tomasz", "Agnieszka", "Paweł",
                     "Barbara", "Michał", "Ewa", "Marcin", "Zofia", "Łukasz", "Joanna", "Grzegorz"])
LAST_PL = np.array(["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
                    "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur"])
ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")
NAME_A = np.array(["Nordic", "Baltic", "Summit", "Vertex", "Harbor", "Atlas", "Cedar", "Orbit", "Polar", "Crest",
                   "Granite", "Silver", "Beacon", "Prairie", "Wawel", "Vistula", "Mazovia", "Tatra", "Pioneer", "Delta"])
NAME_B = np.array(["Systems", "Logistics", "Foods", "Networks", "Hotels", "Bank", "Works", "Labs", "Retail",
                   "Telecom", "Industries", "Payments", "Resorts", "Software", "Steel", "Mobile"])
OWNERS = [("Alice Morgan", "alice.morgan"), ("Bartosz Zając", "bartosz.zajac"), ("Chen Wei", "chen.wei"),
          ("Diana Ortiz", "diana.ortiz"), ("Erik Lund", "erik.lund"), ("Fatima Khan", "fatima.khan"),
          ("Gosia Król", "gosia.krol"), ("Hugo Martin", "hugo.martin")]


@dataclass(frozen=True)
class Base:
    accounts: pd.DataFrame
    contacts: pd.DataFrame
    touchpoint_events: pd.DataFrame
    contracts: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "src.accounts": self.accounts,
            "src.contacts": self.contacts,
            "src.touchpoint_events": self.touchpoint_events,
            "src.contracts": self.contracts,
        }


def satisfaction(account_id: str, industry: str, seed: int = 7) -> float:
    """The account's latent satisfaction in [0, 1]: industry mood plus a stable per-account draw."""
    u = zlib.crc32(f"{seed}:{account_id}".encode()) / 2**32
    # A skewed draw: most accounts are content, a tail is unhappy.
    spread = (u - 0.5) * 0.9 - (0.25 if u < 0.12 else 0.0)
    return float(min(1.0, max(0.0, INDUSTRY_MOOD.get(industry, 0.6) + spread)))


def _satisfaction_vec(ids: np.ndarray, industries: np.ndarray, seed: int) -> np.ndarray:
    return np.array([satisfaction(a, i, seed) for a, i in zip(ids, industries, strict=True)])


def generate(
    config: ProgramConfig,
    *,
    n_accounts: int = 400,
    start: date = date(2026, 9, 1),
    end: date = date(2026, 11, 1),
    seed: int = 7,
    history_years: int = 2,
    n_contacts: int | None = None,
) -> Base:
    """Generate the customer base; events fall in [start - 30 days, end).

    ``n_contacts`` scales the accounts so that about that many contacts are made (benchmarks).
    """
    rng = np.random.default_rng(seed)
    industries = np.array(sorted(config.industries))
    if n_contacts is not None:
        mean_contacts = sum(p * SEGMENT_CONTACTS[s] for s, p in zip(SEGMENTS, SEGMENT_P, strict=True))
        n_accounts = max(1, round(n_contacts / mean_contacts))
    n = n_accounts
    history_start = start - timedelta(days=365 * history_years)

    # -- accounts -----------------------------------------------------------------------------
    account_id = np.array([f"A{i:06d}" for i in range(1, n + 1)], dtype=object)
    industry = industries[np.arange(n) % len(industries)]
    rng.shuffle(industry)
    segment = rng.choice(SEGMENTS, size=n, p=SEGMENT_P)
    region = rng.choice(REGIONS, size=n, p=REGION_P)
    polish = (region == "EMEA") & (rng.random(n) < 0.45)
    mu = np.array([SEGMENT_ARR[s][0] for s in segment])
    sigma = np.array([SEGMENT_ARR[s][1] for s in segment])
    arr = np.round(np.exp(rng.normal(mu, sigma)), -2)
    owner_ix = rng.integers(0, len(OWNERS), size=n)
    names = pd.Series(rng.choice(NAME_A, n)) + " " + pd.Series(rng.choice(NAME_B, n))
    span_days = (end - history_start).days
    created_offset = rng.integers(0, span_days, size=n)
    # Most of the base predates the demo window; some accounts are acquired during it.
    created_offset = np.where(rng.random(n) < 0.9, rng.integers(0, max(1, (start - history_start).days), size=n), created_offset)
    created = pd.Timestamp(history_start) + pd.to_timedelta(created_offset, unit="D") + pd.to_timedelta(
        rng.integers(8 * 3600, 18 * 3600, size=n), unit="s"
    )
    sat = _satisfaction_vec(account_id, industry, seed)
    accounts = pd.DataFrame(
        {
            "account_id": account_id,
            "name": names.to_numpy(),
            "industry": industry,
            "segment": segment,
            "region": region,
            "arr": arr,
            "owner_name": [OWNERS[i][0] for i in owner_ix],
            "owner_email": [f"{OWNERS[i][1]}@example.com" for i in owner_ix],
            "created_at": created,
        }
    )

    # -- contracts: yearly terms from created_at; churn at renewal depends on satisfaction ------
    rows = []
    churn_p = np.clip(0.45 * (1 - sat) ** 2 + 0.02, 0, 0.6)
    created_days = created.date
    for i in range(n):
        s = created_days[i]
        while True:
            e = date(s.year + 1, s.month, min(s.day, 28))
            if e >= end:
                rows.append((account_id[i], s, None, arr[i], None))
                break
            churned = rng.random() < churn_p[i]
            rows.append((account_id[i], s, e, arr[i], "churned" if churned else "renewed"))
            if churned:
                break
            s = e
    contracts = pd.DataFrame(rows, columns=["account_id", "start_date", "end_date", "arr", "ended_reason"])
    contracts.insert(0, "contract_id", [f"C{i + 1:07d}" for i in range(len(contracts))])
    contracts["start_date"] = pd.to_datetime(contracts["start_date"])
    contracts["end_date"] = pd.to_datetime(contracts["end_date"])

    # -- contacts -----------------------------------------------------------------------------
    lam = np.array([SEGMENT_CONTACTS[s] for s in segment])
    per_account = 1 + rng.poisson(lam - 1)
    acc_ix = np.repeat(np.arange(n), per_account)
    m = len(acc_ix)
    first_in_account = np.r_[0, np.cumsum(per_account)[:-1]]
    pos = np.arange(m) - np.repeat(first_in_account, per_account)
    role = np.where(pos == 0, "decision_maker", np.where(pos <= 1 + (per_account[acc_ix] > 6), "influencer", "user"))
    is_pl = polish[acc_ix] & (rng.random(m) < 0.9)
    # Pick names by index into one table per kind, so the e-mail local part is a cheap lookup.
    firsts = np.concatenate([FIRST_EN, FIRST_PL])
    lasts = np.concatenate([LAST_EN, LAST_PL])
    fi = np.where(is_pl, len(FIRST_EN) + rng.integers(0, len(FIRST_PL), m), rng.integers(0, len(FIRST_EN), m))
    li = np.where(is_pl, len(LAST_EN) + rng.integers(0, len(LAST_PL), m), rng.integers(0, len(LAST_EN), m))
    first, last = firsts[fi], lasts[li]
    first_ascii = np.array([x.translate(ASCII).lower() for x in firsts], dtype=object)[fi]
    last_ascii = np.array([x.translate(ASCII).lower() for x in lasts], dtype=object)[li]
    contact_id = np.array([f"P{i:07d}" for i in range(1, m + 1)], dtype=object)
    suffix = np.where(pos > 0, pos.astype(str), "").astype(object)
    domain = np.array([f"@{a.lower()}.example.com" for a in account_id], dtype=object)[acc_ix]
    email = pd.Series(first_ascii + "." + last_ascii + suffix + domain)
    contact_created = created[acc_ix] + pd.to_timedelta(rng.integers(0, 60 * 86400, size=m), unit="s")
    contacts = pd.DataFrame(
        {
            "contact_id": contact_id,
            "account_id": account_id[acc_ix],
            "first_name": first,
            "last_name": last,
            "email": email.to_numpy(),
            "role": role,
            "locale": np.where(is_pl, "pl", "en"),
            "consent": rng.random(m) < 0.95,
            "created_at": contact_created,
        }
    )

    # -- touchpoint events in [start - 30d, end) -----------------------------------------------
    ev_start = pd.Timestamp(start - timedelta(days=30))
    window_days = (end - start).days + 30
    frames = []
    contacts_by_account_start = first_in_account
    for ind in industries:
        ind_mask = industry == ind
        idx = np.flatnonzero(ind_mask)
        for tp in sorted(config.touchpoints_for(str(ind))):
            rate = TOUCHPOINT_RATE.get(tp, DEFAULT_RATE) * window_days / 30.0
            if rate <= 0:
                continue
            counts = rng.poisson(rate * (1 + (segment[idx] == "Enterprise")), size=len(idx))
            acc = np.repeat(idx, counts)
            k = len(acc)
            if k == 0:
                continue
            when = ev_start + pd.to_timedelta(rng.integers(0, window_days * 86400, size=k), unit="s")
            if tp in CONTACT_LEVEL:
                pick = contacts_by_account_start[acc] + (rng.random(k) * per_account[acc]).astype(int)
                cid = contact_id[pick]
            else:
                cid = np.full(k, None, dtype=object)
            frames.append(pd.DataFrame({"account_id": account_id[acc], "contact_id": cid, "touchpoint": tp, "occurred_at": when}))
    # Renewals come from the contract history.
    ren = contracts[(contracts["ended_reason"] == "renewed") & contracts["end_date"].between(ev_start, pd.Timestamp(end), inclusive="left")]
    frames.append(
        pd.DataFrame({"account_id": ren["account_id"], "contact_id": None, "touchpoint": "renewal", "occurred_at": ren["end_date"] + pd.Timedelta(hours=10)})
    )
    events = pd.concat(frames, ignore_index=True)
    # Nobody has touchpoints before the account exists or after it churned.
    acc_created = pd.Series(created, index=account_id)
    events = events[events["occurred_at"].to_numpy() >= acc_created.loc[events["account_id"]].to_numpy()]
    last_end = contracts.groupby("account_id")["end_date"].max()
    churned_accounts = contracts.loc[contracts["ended_reason"] == "churned", "account_id"]
    churn_date = last_end.loc[churned_accounts]
    ev_churn = events["account_id"].map(churn_date)
    events = events[ev_churn.isna() | (events["occurred_at"] < ev_churn)]
    events = events.sort_values(["occurred_at", "account_id"], kind="stable").reset_index(drop=True)
    events.insert(0, "event_id", np.array([f"E{i:08d}" for i in range(1, len(events) + 1)], dtype=object))
    return Base(accounts, contacts, events, contracts)


def load_base(warehouse, base: Base) -> dict[str, int]:
    """Replace the ``src`` tables with ``base`` in one transaction; returns row counts."""
    counts = {}
    with warehouse.begin() as conn:
        for table, df in base.frames().items():
            warehouse.run_sql(conn, f"DELETE FROM {table}")
            counts[table] = warehouse.load_df(conn, table, df)
    return counts


def as_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
