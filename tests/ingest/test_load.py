"""Response ingestion end to end on a real warehouse (DuckDB and PostgreSQL): every row accounted for."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.ingest.conftest import SECRET

pytestmark = pytest.mark.usefixtures("fake_now")

HEADER = ["token", "score", "comment", "responded_at", "locale"]
LONG = "x" * 100_000
HTML = "<script>alert('x')</script><b>great</b>"
SQL = "'); DROP TABLE ops.raw_responses; --"
FORMULA = '=HYPERLINK("http://evil.example","click")'


def csv_bytes(rows: list[list[str]], extra_lines: list[str] = ()) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    return (buf.getvalue() + "".join(line + "\n" for line in extra_lines)).encode("utf-8")


def kitchen_sink(signer) -> bytes:
    s = signer.sign
    t1, t2, t3 = s("S-NPS-1", "nps", 9), s("S-NPS-2", "nps"), s("S-NPS-3", "nps")
    tampered = t3[:-3] + ("AAA" if not t3.endswith("AAA") else "BBB")
    rows = [
        [t1, "9", "Great support", "2026-11-03T10:00:00Z", "en"],                      # 2 loaded
        [t2, "11", "", "2026-11-03T10:00:00Z", "en"],                                   # 3
        [t2, "-1", "", "2026-11-03T10:01:00Z", "en"],                                   # 4
        [t2, "7.5", "", "2026-11-03T10:02:00Z", "en"],                                  # 5
        [t2, "ten", "", "2026-11-03T10:03:00Z", "en"],                                  # 6
        [t2, "", "", "2026-11-03T10:04:00Z", "en"],                                     # 7
        ["", "8", "", "2026-11-03T10:05:00Z", "en"],                                    # 8
        [tampered, "8", "", "2026-11-03T10:06:00Z", "en"],                              # 9 security
        [s("S-CSAT-1", "nps"), "8", "", "2026-11-03T10:07:00Z", "en"],                  # 10 security
        [t3, "5", "", "2026-11-01T08:00:00Z", "en"],                                    # 11
        [t3, "5", LONG, "2026-11-03T10:08:00Z", "en"],                                  # 12
        [t3, "3", HTML, "2026-11-03T11:00:00Z", "en"],                                  # 13 loaded
        [s("S-CES-1", "ces"), "2", SQL, "2026-11-03T12:00:00+01:00", "PL"],             # 14 loaded
        [s("S-CSAT-1", "csat", 5), "4", FORMULA, "2026-11-03 13:00:00", ""],           # 15 loaded
        [s("S-NOPE", "nps"), "3", "", "2026-11-03T10:09:00Z", "en"],                    # 16 security
        [t1, "9", "Great support", "2026-11-03T10:00:00Z", "en"],                      # 17 duplicate of 2
        [t1, "6", "Changed my mind: support got slow", "2026-11-04T10:00:00Z", "en"],  # 18 loaded
        [t2, "7", "", "2026-11-11T00:00:00Z", "en"],                                    # 19
        [t2, "7", "", "last tuesday", "en"],                                            # 20
    ]
    tail = [
        "x,1",                                                                          # 21
        f"{s('S-CSAT-1', 'csat')},9,,2026-11-03T10:10:00Z,en",                          # 22 security
        f"{t2},7,,,en",                                                                 # 23
    ]
    return csv_bytes(rows, tail)


EXPECTED_QUARANTINE = [
    (3, "validation", "score_type_range", "score 11 is outside 0–10 for an NPS survey"),
    (4, "validation", "score_type_range", "score -1 is outside 0–10 for an NPS survey"),
    (5, "validation", "score_integer", "score '7.5' is not a whole number"),
    (6, "validation", "score_integer", "score 'ten' is not a whole number"),
    (7, "validation", "score_missing", "the score is empty"),
    (8, "validation", "token_missing", "the token is missing"),
    (9, "security", "token_signature", "token rejected: invalid signature: the token was forged or altered"),
    (10, "security", "survey_type_mismatch",
     "the token is for an NPS survey but survey S-CSAT-1 is a CSAT survey; score 8 is outside 1–5 for a CSAT survey"),
    (11, "validation", "responded_before_sent",
     "responded_at 2026-11-01 08:00:00 is before the survey was sent (2026-11-02 09:00:00)"),
    (12, "validation", "comment_length", "the comment has 100,000 characters, more than the limit of 5,000"),
    (16, "security", "survey_unknown", "survey S-NOPE was never dispatched (it is not in the send ledger as sent)"),
    (17, "validation", "duplicate", "duplicate of line 2 (same survey and response time)"),
    (19, "validation", "responded_at_future", "responded_at 2026-11-11 00:00:00 is in the future (now 2026-11-10 12:00:00 UTC)"),
    (20, "validation", "responded_at_format",
     "responded_at 'last tuesday' is not a timestamp (use ISO 8601, e.g. 2026-11-03T14:05:00Z)"),
    (21, "validation", "row_format", "line has 2 fields, the header has 5"),
    (22, "security", "score_type_range", "score 9 is outside 1–5 for a CSAT survey"),
    (23, "validation", "responded_at_missing", "responded_at is empty"),
]


def run(wh, landing, program_config, chunk_rows=100_000):
    from nps.ingest.load import ingest_responses

    return ingest_responses(wh, landing, secret=SECRET, config=program_config, chunk_rows=chunk_rows)


def drop(landing, name: str, data: bytes) -> None:
    (landing.root / "responses" / name).write_bytes(data)


def counts(r) -> tuple:
    return (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate, r.rows_security)


#: The kitchen-sink file: a header and 22 data rows (lines 2-23); the valid ones are these lines.
SINK_LINES = set(range(2, 24))
SINK_VALID = {2, 13, 14, 15, 18}


def assert_lines_accounted(wh, file_id: str, lines: set[int], duplicates: set[int]) -> None:
    """Every line the test wrote is in raw_responses, in quarantine or a known duplicate, exactly once."""
    loaded = [x["n"] for x in wh.query("SELECT source_line AS n FROM ops.raw_responses WHERE file_id = :f", {"f": file_id})]
    quarantined = [x["n"] for x in wh.query("SELECT line_number AS n FROM ops.quarantine WHERE file_id = :f", {"f": file_id})]
    together = loaded + quarantined + sorted(duplicates)
    assert sorted(together) == sorted(lines), (sorted(loaded), sorted(quarantined), sorted(duplicates))


def test_every_bad_input_is_quarantined_with_its_reason(ledger, landing, signer, program_config):
    wh = ledger
    drop(landing, "2026-11-03.csv", kitchen_sink(signer))
    [r] = run(wh, landing, program_config, chunk_rows=4)  # chunks of 4: duplicates across chunks too
    assert counts(r) == ("loaded", 22, 5, 17, 0, 4)
    q = wh.query("SELECT line_number, category, rule, reason, path, kind FROM ops.quarantine ORDER BY line_number")
    assert [(x["line_number"], x["category"], x["rule"], x["reason"]) for x in q] == EXPECTED_QUARANTINE
    assert {(x["path"], x["kind"]) for x in q} == {("responses/2026-11-03.csv", "responses")}
    original = wh.scalar("SELECT original_line FROM ops.quarantine WHERE line_number = 21")
    assert original == "x,1"
    loaded = wh.query(
        "SELECT survey_id, survey_type, score, comment, responded_at, locale, source_line FROM ops.raw_responses "
        "ORDER BY source_line"
    )
    assert [(x["survey_id"], x["survey_type"], x["score"], x["comment"], str(x["responded_at"]), x["locale"], x["source_line"])
            for x in loaded] == [
        ("S-NPS-1", "nps", 9, "Great support", "2026-11-03 10:00:00", "en", 2),
        ("S-NPS-3", "nps", 3, HTML, "2026-11-03 11:00:00", "en", 13),
        ("S-CES-1", "ces", 2, SQL, "2026-11-03 11:00:00", "pl", 14),  # +01:00 stored as UTC
        ("S-CSAT-1", "csat", 4, FORMULA, "2026-11-03 13:00:00", None, 15),
        ("S-NPS-1", "nps", 6, "Changed my mind: support got slow", "2026-11-04 10:00:00", "en", 18),
    ]
    # The SQL payload was stored as text, not executed: the table is still there.
    assert wh.scalar("SELECT COUNT(*) FROM ops.raw_responses") == 5
    audit = wh.query("SELECT * FROM ops.ingest_files")
    assert len(audit) == 1
    a = audit[0]
    assert (a["status"], a["rows_read"], a["rows_loaded"], a["rows_quarantined"], a["rows_duplicate"], a["rows_security"]) == (
        "loaded", 22, 5, 17, 0, 4)
    assert a["archived_to"] == f"archive/responses/{r.file_id[:12]}_2026-11-03.csv"
    assert (landing.root / a["archived_to"]).is_file()
    assert not (landing.root / "responses" / "2026-11-03.csv").exists()
    assert str(a["started_at"]) == "2026-11-10 12:00:00"
    assert_lines_accounted(wh, r.file_id, SINK_LINES, set())


def test_same_file_twice_other_name_and_fixed_version(ledger, landing, signer, program_config):
    wh = ledger
    data = kitchen_sink(signer)
    drop(landing, "2026-11-03.csv", data)
    [first] = run(wh, landing, program_config)
    # The same file dropped again under the same name: that version was ingested; nothing is read.
    drop(landing, "2026-11-03.csv", data)
    [again] = run(wh, landing, program_config)
    assert counts(again) == ("skipped", 0, 0, 0, 0, 0)
    assert again.file_id == first.file_id
    # The same content under another name: every valid row is an exact duplicate.
    drop(landing, "2026-11-03-copy.csv", data)
    [copy] = run(wh, landing, program_config)
    assert counts(copy) == ("loaded", 22, 0, 17, 5, 4)
    assert_lines_accounted(wh, copy.file_id, SINK_LINES, SINK_VALID)  # the valid lines are the duplicates
    # A corrected version under the original name is a new version: only the fixed row is new.
    fixed = data.replace(b",11,,2026-11-03T10:00:00Z", b",10,,2026-11-03T10:00:00Z")
    drop(landing, "2026-11-03.csv", fixed)
    [v2] = run(wh, landing, program_config)
    assert v2.file_id != first.file_id
    assert counts(v2) == ("loaded", 22, 1, 16, 5, 4)
    assert_lines_accounted(wh, v2.file_id, SINK_LINES, SINK_VALID)  # line 3 (score 10 now) is the one new row
    assert wh.scalar("SELECT COUNT(*) FROM ops.raw_responses") == 6
    assert wh.scalar("SELECT COUNT(*) FROM ops.ingest_files") == 3
    assert wh.scalar("SELECT SUM(rows_read) - SUM(rows_loaded + rows_quarantined + rows_duplicate) FROM ops.ingest_files") == 0
    assert sorted(p.name for p in (landing.root / "archive" / "responses").iterdir()) == sorted(
        [f"{first.file_id[:12]}_2026-11-03.csv", f"{copy.file_id[:12]}_2026-11-03-copy.csv", f"{v2.file_id[:12]}_2026-11-03.csv"]
    )


def test_survey_answered_twice_keeps_both_rows(ledger, landing, signer, program_config):
    wh = ledger
    t = signer.sign("S-NPS-2", "nps", 3)
    drop(landing, "a.csv", csv_bytes([[t, "3", "slow support", "2026-11-03T10:00:00Z", "en"]]))
    drop(landing, "b.jsonl", (json.dumps({"token": t, "score": 8, "comment": "fixed now", "responded_at": "2026-11-05T09:00:00Z"}) + "\n").encode())
    results = run(wh, landing, program_config)
    assert [counts(r) for r in results] == [("loaded", 1, 1, 0, 0, 0), ("loaded", 1, 1, 0, 0, 0)]
    rows = wh.query("SELECT score, responded_at FROM ops.raw_responses WHERE survey_id = 'S-NPS-2' ORDER BY responded_at")
    assert [(x["score"], str(x["responded_at"])) for x in rows] == [(3, "2026-11-03 10:00:00"), (8, "2026-11-05 09:00:00")]


def test_unparseable_files_are_set_aside_and_the_others_load(ledger, landing, signer, program_config):
    from nps.ingest.summary import rejected_message

    wh = ledger
    drop(landing, "a-empty.csv", b"")
    drop(landing, "b-header-only.csv", b"token,score,comment,responded_at,locale\r\n")
    drop(landing, "c-no-score.csv", b"token,comment,responded_at\nx,y,z\n")
    drop(landing, "d-good.csv", csv_bytes([[signer.sign("S-NPS-1", "nps"), "10", "", "2026-11-03T10:00:00Z", "en"]]))
    results = run(wh, landing, program_config)
    assert [(r.path, r.status, r.rows_read, r.rows_loaded) for r in results] == [
        ("responses/a-empty.csv", "rejected", 0, 0),
        ("responses/b-header-only.csv", "loaded", 0, 0),
        ("responses/c-no-score.csv", "rejected", 0, 0),
        ("responses/d-good.csv", "loaded", 1, 1),
    ]
    reasons = {x["path"]: x["reason"] for x in wh.query("SELECT path, reason FROM ops.ingest_files WHERE status = 'rejected'")}
    assert reasons == {
        "responses/a-empty.csv": "the file is empty (no header line)",
        "responses/c-no-score.csv": "the header has no score column (found: token, comment, responded_at; "
        "required: token, score, responded_at; optional: comment, locale)",
    }
    rejected = results[0]
    assert (landing.root / rejected.archived_to).is_file()
    assert (landing.root / f"{rejected.archived_to}.reason.txt").read_text() == (
        "responses/a-empty.csv: the file is empty (no header line)\n")
    msg = rejected_message([r.as_dict() for r in results])
    assert msg.splitlines()[0] == "2 file(s) could not be parsed or failed the audit and were set aside (the other files loaded):"
    assert f"responses/a-empty.csv -> {rejected.archived_to}: the file is empty (no header line)" in msg
    assert list((landing.root / "responses").iterdir()) == []


def test_interrupted_attempt_is_cleaned_up(ledger, landing, signer, program_config):
    """Chunks commit one by one; a retry after a crash deletes the partial rows first."""
    import pandas as pd

    from nps.ingest.landing import file_id_for

    wh = ledger
    data = csv_bytes([[signer.sign("S-NPS-1", "nps"), "10", "", "2026-11-03T10:00:00Z", "en"]])
    drop(landing, "a.csv", data)
    import hashlib

    fid = file_id_for("responses/a.csv", hashlib.sha256(data).hexdigest())
    stale = pd.DataFrame([{"response_id": "stale", "survey_id": "S-NPS-1", "survey_type": "nps", "score": 1, "comment": None,
                           "responded_at": pd.Timestamp("2026-11-03"), "locale": None, "file_id": fid, "source_line": 2,
                           "loaded_at": pd.Timestamp("2026-11-03")}])
    stale["responded_at"] = stale["responded_at"].astype("datetime64[us]")
    stale["loaded_at"] = stale["loaded_at"].astype("datetime64[us]")
    with wh.begin() as conn:
        wh.load_df(conn, "ops.raw_responses", stale)
    [r] = run(wh, landing, program_config)
    assert counts(r) == ("loaded", 1, 1, 0, 0, 0)
    assert [x["score"] for x in wh.query("SELECT score FROM ops.raw_responses")] == [10]


def _lossy_bulk_load(monkeypatch, lose: int = 1):
    """Make the bulk load of each chunk's rows silently drop the last ``lose`` rows of every frame
    (on PostgreSQL the COPY into ops.raw_responses, on DuckDB the frame it reads in place)."""
    from nps.ingest import load
    from nps.warehouse import Warehouse

    real_staged, real_load = load.ResponseLoader._staged, Warehouse.load_df

    def lossy_staged(self, conn, rows):
        return real_staged(self, conn, rows.iloc[:-lose] if len(rows) > lose else rows)

    def lossy_load(self, conn, target, df, columns=None):
        if target == "ops.raw_responses" and len(df) > lose:
            df = df.iloc[:-lose]
        return real_load(self, conn, target, df, columns)

    monkeypatch.setattr(load.ResponseLoader, "_staged", lossy_staged)
    monkeypatch.setattr(Warehouse, "load_df", lossy_load)

    def repair():
        monkeypatch.setattr(load.ResponseLoader, "_staged", real_staged)
        monkeypatch.setattr(Warehouse, "load_df", real_load)

    return repair


def test_a_real_loss_fails_the_audit_and_leaves_no_rows(ledger, landing, signer, program_config, monkeypatch):
    """A bulk load that silently loses a row (the counters are never touched): the balance catches
    it, the file's rows are all removed (also its quarantine), and it is set aside with the reason."""
    wh = ledger
    data = kitchen_sink(signer)
    drop(landing, "2026-11-03.csv", data)
    drop(landing, "2026-11-04.csv", csv_bytes([[signer.sign("S-NPS-2", "nps"), "8", "", "2026-11-04T10:00:00Z", "en"]]))
    repair = _lossy_bulk_load(monkeypatch)
    lost, fine = run(wh, landing, program_config, chunk_rows=8)  # chunks of 8: committed chunks must go too
    # Chunks of lines 2-9, 10-17, 18-23 hold valid lines {2}, {13, 14, 15}, {18}: only the middle
    # chunk's frame has more than one row, so line 15 is lost; 4 are stored.
    assert (lost.status, lost.rows_loaded, lost.rows_quarantined) == ("rejected", 0, 0)
    assert lost.reason == ("audit failed: responses/2026-11-03.csv: rows read 22 != loaded 4 + quarantined 17 + "
                           "duplicates 0 = 21: rows were lost on the way; nothing of the file is kept")
    assert counts(fine) == ("loaded", 1, 1, 0, 0, 0)  # a one-row frame is not cut: the next file loads
    assert wh.scalar("SELECT COUNT(*) FROM ops.raw_responses WHERE file_id = :f", {"f": lost.file_id}) == 0
    assert wh.scalar("SELECT COUNT(*) FROM ops.quarantine WHERE file_id = :f", {"f": lost.file_id}) == 0
    assert wh.query("SELECT path, status FROM ops.ingest_files") == [{"path": "responses/2026-11-04.csv", "status": "loaded"}]
    aside = landing.root / lost.archived_to
    assert lost.archived_to == f"rejected/responses/{lost.file_id[:12]}_2026-11-03.csv" and aside.read_bytes() == data
    assert (landing.root / f"{lost.archived_to}.reason.txt").read_text().startswith(
        "responses/2026-11-03.csv: audit failed: responses/2026-11-03.csv: rows read 22 != loaded 4")
    # After the fix the very same file is dropped again and loads whole.
    repair()
    aside.rename(landing.root / "responses" / "2026-11-03.csv")
    [again] = run(wh, landing, program_config, chunk_rows=8)
    assert counts(again) == ("loaded", 22, 5, 17, 0, 4)
    assert_lines_accounted(wh, again.file_id, SINK_LINES, set())


def test_a_row_the_database_drops_fails_the_audit(ledger, landing, signer, program_config):
    """PostgreSQL: a trigger silently discards one inserted answer; the insert's rowcount agrees
    with the table, so only independent counts can tell. (DuckDB has no triggers.)"""
    wh = ledger
    if wh.is_duckdb:
        pytest.skip("DuckDB has no triggers; test_a_real_loss_fails_the_audit_and_leaves_no_rows covers both engines")
    import sqlalchemy as sa

    with wh.begin() as conn:  # plain execute: the statement splitter does not know dollar quotes
        conn.execute(sa.text("CREATE FUNCTION ops.lose_line_13() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN IF NEW.source_line = 13 THEN RETURN NULL; END IF; RETURN NEW; END $$"))
        conn.execute(sa.text("CREATE TRIGGER lose_line_13 BEFORE INSERT ON ops.raw_responses "
                             "FOR EACH ROW EXECUTE FUNCTION ops.lose_line_13()"))
    drop(landing, "2026-11-03.csv", kitchen_sink(signer))
    [r] = run(wh, landing, program_config)
    assert r.status == "rejected" and "rows read 22 != loaded 4 + quarantined 17 + duplicates 0 = 21:" in r.reason
    assert wh.scalar("SELECT COUNT(*) FROM ops.raw_responses") == 0
    assert wh.scalar("SELECT COUNT(*) FROM ops.quarantine") == 0


def test_a_crash_mid_file_removes_the_committed_chunks(ledger, landing, signer, program_config, monkeypatch):
    from nps.ingest import load

    wh = ledger
    drop(landing, "a.csv", kitchen_sink(signer))
    real = load.ResponseLoader._check
    calls = []

    def dies_on_third(self, lookup, f, chunk, seen, r):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise ConnectionError("the warehouse went away")
        return real(self, lookup, f, chunk, seen, r)

    monkeypatch.setattr(load.ResponseLoader, "_check", dies_on_third)
    with pytest.raises(ConnectionError):
        run(wh, landing, program_config, chunk_rows=8)
    assert calls == [8, 8, 6]
    assert (wh.scalar("SELECT COUNT(*) FROM ops.raw_responses"), wh.scalar("SELECT COUNT(*) FROM ops.quarantine")) == (0, 0)
    assert (landing.root / "responses" / "a.csv").is_file()  # still waiting: the retry loads it


def test_a_failed_write_stops_the_file_and_removes_its_rows(ledger, landing, signer, program_config, monkeypatch):
    """Chunks are written behind the checks, in another thread: a write that fails stops the file
    (at most one more chunk is checked, none is written after it), its error is raised, every
    committed chunk of the file is removed, and the file waits for the retry, which loads it whole."""
    from nps.ingest import load

    wh = ledger
    drop(landing, "a.csv", kitchen_sink(signer))
    real_write, real_check = load.ResponseLoader._write, load.ResponseLoader._check
    written, checked = [], []

    def fails_second(self, conn, f, c):
        written.append(c.n)
        if len(written) == 2:
            raise ConnectionError("the warehouse went away mid-write")
        return real_write(self, conn, f, c)

    def counts_checks(self, lookup, f, chunk, seen, r):
        checked.append(len(chunk))
        return real_check(self, lookup, f, chunk, seen, r)

    monkeypatch.setattr(load.ResponseLoader, "_write", fails_second)
    monkeypatch.setattr(load.ResponseLoader, "_check", counts_checks)
    with pytest.raises(ConnectionError, match="mid-write"):
        run(wh, landing, program_config, chunk_rows=8)
    assert written == [8, 8] and checked == [8, 8, 6]
    assert (wh.scalar("SELECT COUNT(*) FROM ops.raw_responses"), wh.scalar("SELECT COUNT(*) FROM ops.quarantine")) == (0, 0)
    assert wh.scalar("SELECT COUNT(*) FROM ops.ingest_files") == 0
    assert (landing.root / "responses" / "a.csv").is_file()
    monkeypatch.setattr(load.ResponseLoader, "_write", real_write)
    [again] = run(wh, landing, program_config, chunk_rows=8)
    assert counts(again) == ("loaded", 22, 5, 17, 0, 4)
    assert_lines_accounted(wh, again.file_id, SINK_LINES, set())
