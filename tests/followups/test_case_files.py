"""Case files from the landing area, with the ingestion's audit: read = applied + quarantined +
duplicates, every quarantined row named by file and row with its rule, the file archived."""

from __future__ import annotations

from datetime import datetime

from nps.followups.cases import ingest_case_files
from nps.followups.decide import decide
from nps.ingest.landing import Landing
from tests.followups.helpers import answer, answers, cases, fconfig, history, seed

NOW = datetime(2026, 10, 7, 12)
LATER = datetime(2026, 10, 8, 9)


def _cases(wh):
    seed(wh, [("S01", "P1", "nps", "en"), ("S02", "P2", "nps", "en"), ("S03", "P3", "csat", "en")])
    answers(wh, [answer("S01", "nps", 2, datetime(2026, 10, 7, 9)), answer("S02", "nps", 5, datetime(2026, 10, 7, 9)),
                 answer("S03", "csat", 1, datetime(2026, 10, 7, 9))])
    decide(wh, fconfig(), NOW, "run1")
    assert sorted(cases(wh)) == ["C-S01", "C-S02", "C-S03"]


def test_case_file_moves_cases_forward_and_quarantines_the_rest(warehouse, tmp_path):
    _cases(warehouse)
    lz = Landing(str(tmp_path / "landing"))
    (lz.root / "cases").mkdir(parents=True)
    (lz.root / "cases" / "2026-10-08-crm.csv").write_text(
        "case_id,status,note,updated_at,updated_by\n"
        "C-S01,in_progress,called the customer,2026-10-08T08:00:00Z,alice\n"          # 2 applied
        "C-S01,resolved,refund issued,2026-10-08T08:30:00Z,alice\n"                  # 3 applied
        "C-S02,resolved,,,\n"                                                        # 4 applied (now)
        "C-S02,resolved,again,,\n"                                                   # 5 duplicate
        "C-S01,open,reopen?,,\n"                                                     # 6 backward
        "C-X99,resolved,,,\n"                                                        # 7 unknown case
        "C-S03,done,,,\n"                                                            # 8 bad status
        ",resolved,,,\n"                                                             # 9 missing id
        "C-S03,in_progress,,yesterday,\n",                                           # 10 bad time
        encoding="utf-8")
    res = ingest_case_files(warehouse, lz, now=LATER, run_id="run2")
    assert (res.rows_read, res.rows_applied, res.rows_quarantined, res.rows_duplicate) == (9, 3, 5, 1)
    c = cases(warehouse)
    assert (c["C-S01"]["status"], c["C-S01"]["first_action_at"], c["C-S01"]["resolved_at"], c["C-S01"]["resolution"]) == (
        "resolved", datetime(2026, 10, 8, 8), datetime(2026, 10, 8, 8, 30), "refund issued")
    assert (c["C-S02"]["status"], c["C-S02"]["first_action_at"], c["C-S02"]["resolved_at"]) == ("resolved", LATER, LATER)
    assert c["C-S03"]["status"] == "open"
    assert history(warehouse, "C-S01") == [(1, "opened", None, "open"), (2, "status", "open", "in_progress"),
                                           (3, "status", "in_progress", "resolved")]
    src = warehouse.query("SELECT source, detail FROM ops.followup_case_history WHERE case_id = 'C-S01' AND seq = 2")[0]
    assert src == {"source": "cases/2026-10-08-crm.csv row 2", "detail": "called the customer (by alice)"}
    q = warehouse.query("SELECT line_number, rule, reason, original_line FROM ops.quarantine WHERE kind = 'cases' "
                        "ORDER BY line_number")
    assert [(r["line_number"], r["rule"]) for r in q] == [
        (6, "backward_transition"), (7, "unknown_case"), (8, "bad_status"), (9, "missing_field"), (10, "bad_timestamp")]
    assert q[0]["reason"] == ("cases/2026-10-08-crm.csv row 6: case C-S01 is resolved; resolved -> open goes backward "
                              "(open -> in_progress -> resolved)")
    assert q[1]["reason"] == "cases/2026-10-08-crm.csv row 7: case 'C-X99' does not exist in ops.followup_cases"
    assert q[1]["original_line"] == "C-X99,resolved,,,"
    audit = warehouse.query("SELECT kind, path, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, "
                            "archived_to FROM ops.ingest_files")
    assert len(audit) == 1
    assert audit[0]["kind"] == "cases" and audit[0]["status"] == "loaded"
    assert (audit[0]["rows_read"], audit[0]["rows_loaded"], audit[0]["rows_quarantined"], audit[0]["rows_duplicate"]) == (
        9, 3, 5, 1)
    assert audit[0]["archived_to"].startswith("archive/cases/") and (lz.root / audit[0]["archived_to"]).is_file()
    assert not list((lz.root / "cases").iterdir())


def test_the_same_file_again_is_skipped_and_a_bad_header_is_rejected(warehouse, tmp_path):
    _cases(warehouse)
    lz = Landing(str(tmp_path / "landing"))
    (lz.root / "cases").mkdir(parents=True)
    body = "case_id,status\nC-S01,in_progress\n"
    (lz.root / "cases" / "a.csv").write_text(body, encoding="utf-8")
    assert ingest_case_files(warehouse, lz, now=LATER, run_id="r").rows_applied == 1
    (lz.root / "cases" / "a.csv").write_text(body, encoding="utf-8")
    (lz.root / "cases" / "b.csv").write_text("id,state\nC-S01,resolved\n", encoding="utf-8")
    res = ingest_case_files(warehouse, lz, now=LATER, run_id="r")
    assert [(f["path"], f["status"]) for f in res.files] == [("cases/a.csv", "skipped"), ("cases/b.csv", "rejected")]
    assert res.files[1]["reason"] == "cases/b.csv: the header must name case_id and status (got ['id', 'state'])"
    assert cases(warehouse)["C-S01"]["status"] == "in_progress"
    assert history(warehouse, "C-S01") == [(1, "opened", None, "open"), (2, "status", "open", "in_progress")]
    rejected = list((lz.root / "rejected" / "cases").iterdir())
    assert sorted(p.name.split("_", 1)[1] for p in rejected) == ["b.csv", "b.csv.reason.txt"]
