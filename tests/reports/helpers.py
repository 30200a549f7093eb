"""The reports' hand-made fixture: three accounts, two months, numbers worked out by hand.

October 2026 (A1, Manufacturing, Enterprise, ARR 10,000): 40 NPS answers, 20 x 10, 10 x 8, 10 x 3
  P = 20, passives 10, D = 10, n = 40 -> NPS 25.0.
  v = p + d - (p - d)^2 = 0.5 + 0.25 - 0.0625 = 0.6875; MOE = 196 x sqrt(0.6875 / 40) = 25.70.
  Adjusted: n' = 43, p' = 20.75 / 43 = 0.48256, d' = 10.75 / 43 = 0.25, NPS' = 23.26,
  v' = 0.73256 - 0.23256^2 = 0.67847, 196 x sqrt(0.67847 / 43) = 24.62 -> [-1.36, 47.88].
November 2026 (A2, SaaS, SMB): 40 answers, 15 x 9, 10 x 7, 15 x 2 -> NPS 0.0,
  v = 0.75, MOE = 196 x sqrt(0.75 / 40) = 26.84; NPS' = 0, v' = 0.73256,
  196 x sqrt(0.73256 / 43) = 25.58 -> [-25.58, 25.58].
  Change 0 - 25 = -25: |0 - 0.23256| = 0.2326 < 1.96 x sqrt(0.67847/43 + 0.73256/43) = 0.3551,
  so NOT significant: "no significant change".
  Plus A3 (Fintech, SMB): 12 answers, all 10 -> Fintech has "not enough answers (n=12)" (min 30).
  Company November: n = 52, P = 27, passives 10, D = 15 -> NPS 100 x 12 / 52 = 23.08.
Progress to target (baseline 45, target 65): (23.08 - 45) / 20 = -109.6%.
"""

from __future__ import annotations

from datetime import datetime

from nps import marts
from tests.marts.helpers import AS_OF, Data, nps_team

OCT = datetime(2026, 10, 5, 10)
NOV = datetime(2026, 11, 9, 10)

REPORTS_CONFIG = {
    "recipients": {
        "monthly": [{"email": "vp@example.com", "name": "VP"}, {"email": "zarzad@example.com", "locale": "pl"},
                    {"email": "not-an-address"}],
        "weekly": ["cx@example.com"],
        "quarterly": ["vp@example.com"],
    },
    "min_answers": 30,
    "segments": [
        {"name": "fintech", "dimension": "industry", "value": "Fintech", "reports": ["monthly"],
         "recipients": ["fintech-lead@example.com"]},
        {"name": "retail", "dimension": "industry", "value": "Retail", "reports": ["monthly"],
         "recipients": ["retail-lead@example.com"]},
        {"name": "enterprise", "dimension": "segment", "value": "Enterprise", "reports": ["monthly"],
         "recipients": [{"email": "enterprise@example.com", "locale": "pl"}]},
    ],
    "qbr": {"owners": {"Alice Morgan": "alice.morgan@example.com"}},
    # ces_mean has no target on purpose: the report must say so.
    "kpis": {"nps": {"baseline": 45, "target": 65}, "csat_pct": {"baseline": 80, "target": 90},
             "ces_mean": {"baseline": 5.0}, "retention_pct": {"baseline": 85, "target": 92}},
}


def config_with(program_config, **reports):
    from nps.config import parse_config

    data = program_config.model_dump(mode="json", exclude_none=True)
    data["reports"] = {**REPORTS_CONFIG, **reports}
    return parse_config(data)


def build_fixture(wh, config) -> None:
    d = Data()
    nps_team(d, "A1", [10] * 20 + [8] * 10 + [3] * 10, OCT, industry="Manufacturing", segment="Enterprise")
    nps_team(d, "A2", [9] * 15 + [7] * 10 + [2] * 15, NOV, industry="SaaS")
    nps_team(d, "A3", [10] * 12, NOV, industry="Fintech")
    d.load(wh)
    marts.rebuild(wh, AS_OF, config)
