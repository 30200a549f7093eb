"""Fixture builder for the marts tests: accounts, contacts, contracts, ledger rows and answers.

Rows go straight into src.* and ops.* (the ingestion and dispatch code is not needed): the
marts only read those tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

AS_OF = datetime(2026, 12, 1, 5, 30)


@dataclass
class Data:
    accounts: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    contracts: list[dict] = field(default_factory=list)
    invitations: list[dict] = field(default_factory=list)
    responses: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    _n: int = 0

    def account(self, account_id: str, *, industry: str = "SaaS", segment: str = "SMB", region: str = "EMEA",
                arr: float = 10000.0, name: str | None = None, start: date = date(2025, 1, 1),
                end: date | None = None, reason: str | None = None) -> str:
        self.accounts.append({
            "account_id": account_id, "name": name or f"Account {account_id}", "industry": industry,
            "segment": segment, "region": region, "arr": arr, "owner_name": "Alice Morgan",
            "owner_email": "alice.morgan@example.com", "created_at": datetime.combine(start, datetime.min.time()),
        })
        self.contract(account_id, start, end, reason, arr)
        return account_id

    def contract(self, account_id: str, start: date, end: date | None, reason: str | None, arr: float = 10000.0) -> None:
        self.contracts.append({
            "contract_id": f"K{len(self.contracts) + 1:05d}", "account_id": account_id, "start_date": start,
            "end_date": end, "arr": arr, "ended_reason": reason,
        })

    def contact(self, contact_id: str, account_id: str, *, role: str = "user", locale: str = "en") -> str:
        self.contacts.append({
            "contact_id": contact_id, "account_id": account_id, "first_name": "Pat", "last_name": contact_id,
            "email": f"{contact_id.lower()}@example.com", "role": role, "locale": locale, "consent": True,
            "created_at": datetime(2025, 1, 1),
        })
        return contact_id

    def invite(self, contact_id: str, survey_type: str, sent_at: datetime, *, program: str = "relationship",
               touchpoint: str | None = None, cycle: str = "2026-Q4", delivery_status: str | None = "delivered",
               survey_id: str | None = None, locale: str | None = None) -> str:
        self._n += 1
        survey_id = survey_id or f"S{self._n:06d}"
        account_id = next(c["account_id"] for c in self.contacts if c["contact_id"] == contact_id)
        loc = locale or next(c["locale"] for c in self.contacts if c["contact_id"] == contact_id)
        self.invitations.append({
            "send_key": f"K-{survey_id}", "survey_id": survey_id, "run_id": "test", "cycle": cycle,
            "program": program, "survey_type": survey_type, "touchpoint": touchpoint,
            "contact_id": contact_id, "account_id": account_id, "locale": loc, "status": "sent",
            "claimed_at": sent_at, "sent_at": sent_at, "delivery_status": delivery_status,
        })
        return survey_id

    def respond(self, survey_id: str, score: int, responded_at: datetime, *, comment: str | None = None,
                locale: str | None = None, response_id: str | None = None, loaded_at: datetime | None = None) -> str:
        inv = next(i for i in self.invitations if i["survey_id"] == survey_id) if self.invitations else None
        response_id = response_id or f"R{len(self.responses) + 1:06d}"
        self.responses.append({
            "response_id": response_id, "survey_id": survey_id,
            "survey_type": inv["survey_type"] if inv else "nps", "score": score, "comment": comment,
            "responded_at": responded_at, "locale": locale, "file_id": "F1",
            "source_line": len(self.responses) + 2, "loaded_at": loaded_at or responded_at + timedelta(hours=1),
        })
        return response_id

    def answer(self, contact_id: str, survey_type: str, score: int, responded_at: datetime, **kw) -> str:
        """An invitation sent the day before and its answer."""
        comment = kw.pop("comment", None)
        locale = kw.pop("response_locale", None)
        sid = self.invite(contact_id, survey_type, responded_at - timedelta(days=1), **kw)
        self.respond(sid, score, responded_at, comment=comment, locale=locale)
        return sid

    def event(self, survey_id: str, event: str, at: datetime, *, loaded_at: datetime | None = None) -> None:
        self.events.append({
            "event_key": f"E{len(self.events) + 1:06d}", "send_key": f"K-{survey_id}", "survey_id": survey_id,
            "event": event, "email": None, "reason": None, "occurred_at": at, "file_id": "F2",
            "loaded_at": loaded_at or at,
        })

    def _frames(self) -> dict[str, list[dict]]:
        return {
            "src.accounts": self.accounts, "src.contacts": self.contacts, "src.contracts": self.contracts,
            "ops.survey_invitations": self.invitations, "ops.raw_responses": self.responses,
            "ops.email_events": self.events,
        }

    def mark(self) -> dict[str, int]:
        """How many rows of each table exist now: ``load(wh, since=mark)`` loads only later ones."""
        return {table: len(rows) for table, rows in self._frames().items()}

    def load(self, wh, since: dict[str, int] | None = None) -> None:
        frames = {t: rows[(since or {}).get(t, 0):] for t, rows in self._frames().items()}
        with wh.begin() as conn:
            for table, rows in frames.items():
                if rows:
                    df = pd.DataFrame(rows)
                    for col in ("start_date", "end_date"):
                        if col in df:
                            df[col] = pd.to_datetime(df[col])
                    wh.load_df(conn, table, df)




def nps_team(data: Data, account_id: str, scores: list[int], when: datetime, **account_kw) -> list[str]:
    """One account whose contacts answered NPS with ``scores`` on ``when``; returns survey ids."""
    data.account(account_id, **account_kw)
    sids = []
    for i, s in enumerate(scores):
        cid = data.contact(f"{account_id}-C{i:03d}", account_id, role=("decision_maker", "influencer", "user")[i % 3])
        sids.append(data.answer(cid, "nps", s, when + timedelta(minutes=i)))
    return sids


def view_sources(wh) -> dict[str, str]:
    """Which build schema each ``marts`` view reads, from the view definitions the engine stores."""
    import re

    if wh.is_duckdb:
        rows = wh.query("SELECT view_name AS v, sql AS d FROM duckdb_views() WHERE schema_name = 'marts'")
    else:
        rows = wh.query("SELECT table_name AS v, view_definition AS d FROM information_schema.views "
                        "WHERE table_schema = 'marts'")
    out = {}
    for r in rows:
        found = sorted(set(re.findall(r"\b(marts_blue|marts_green)\.", r["d"])))
        out[r["v"]] = found[0] if len(found) == 1 else f"mixed {found}"
    return out
