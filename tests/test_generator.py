"""The demo customer base: deterministic, believable, and loadable on both engines."""

from __future__ import annotations

from datetime import date

import pandas as pd

from nps.demo.generator import generate, load_base, satisfaction


def test_deterministic(program_config):
    a = generate(program_config, n_accounts=60, seed=3)
    b = generate(program_config, n_accounts=60, seed=3)
    for x, y in zip(a.frames().values(), b.frames().values(), strict=True):
        pd.testing.assert_frame_equal(x, y)
    c = generate(program_config, n_accounts=60, seed=4)
    assert not a.contacts["email"].equals(c.contacts["email"])


def test_shape_of_the_base(program_config):
    base = generate(program_config, n_accounts=300, start=date(2026, 9, 1), end=date(2026, 11, 1))
    acc, con, ev, ctr = base.accounts, base.contacts, base.touchpoint_events, base.contracts
    assert set(acc["industry"]) == set(program_config.industries)
    assert acc["account_id"].is_unique and con["contact_id"].is_unique and con["email"].is_unique
    assert set(con["role"]) == {"decision_maker", "influencer", "user"}
    # every account has exactly one decision maker
    assert (con[con["role"] == "decision_maker"].groupby("account_id").size() == 1).all()
    assert set(con["locale"]) == {"en", "pl"}
    assert set(con["account_id"]) <= set(acc["account_id"])
    assert set(ctr["ended_reason"].dropna()) == {"renewed", "churned"}
    assert ev["occurred_at"].min() >= pd.Timestamp("2026-08-02")
    assert ev["occurred_at"].max() < pd.Timestamp("2026-11-01")
    # every touchpoint is one the account's industry has configured
    ind = ev["account_id"].map(acc.set_index("account_id")["industry"])
    for tp, industry in zip(ev["touchpoint"], ind, strict=True):
        assert tp in program_config.touchpoints_for(industry)


def test_churn_follows_satisfaction(program_config):
    base = generate(program_config, n_contacts=20_000)
    acc = base.accounts.set_index("account_id")
    churned = set(base.contracts.loc[base.contracts["ended_reason"] == "churned", "account_id"])
    sat = pd.Series({a: satisfaction(a, acc.at[a, "industry"]) for a in acc.index})
    assert sat[list(churned)].mean() < sat.drop(list(churned)).mean() - 0.05


def test_scales_by_contacts(program_config):
    base = generate(program_config, n_contacts=50_000)
    assert 45_000 < len(base.contacts) < 55_000


def test_load_replaces_source_tables(warehouse, program_config):
    base = generate(program_config, n_accounts=40)
    first = load_base(warehouse, base)
    again = load_base(warehouse, base)
    assert first == again
    assert warehouse.scalar("SELECT COUNT(*) FROM src.contacts") == len(base.contacts)
    assert warehouse.scalar("SELECT COUNT(*) FROM src.contracts WHERE end_date IS NULL") == base.contracts["end_date"].isna().sum()
    total = warehouse.scalar("SELECT SUM(arr) FROM src.accounts")
    assert float(total) == float(base.accounts["arr"].sum())
