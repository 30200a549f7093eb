"""Nothing acknowledged is lost, nothing half-written is read: the store, a killed server, and
what ingestion makes of the page's files (on DuckDB and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime

from nps.tokens import TokenSigner
from nps.web.store import ResponseLog, recover, write_event
from tests.web.helpers import SECRET, answers, server

SIGNER = TokenSigner(SECRET)


def test_group_commit_rotation_and_hidden_part_files(tmp_path):
    from nps.ingest.landing import Landing

    folder = tmp_path / "landing" / "responses"

    async def go() -> ResponseLog:
        w = ResponseLog(folder, rotate_seconds=0.3)
        await w.start()
        await asyncio.gather(*[w.append({"i": i}) for i in range(50)])
        # Acknowledged but not yet published: on disk in a hidden file ingestion never lists.
        assert w.pending_part() is not None and w.pending_part().name.startswith(".web-")
        assert Landing(str(tmp_path / "landing")).pending("responses") == []
        await asyncio.sleep(1.2)  # idle: the ticker publishes it
        assert w.pending_part() is None
        await w.append({"i": 50})
        await w.close()
        return w

    w = asyncio.run(go())
    files = sorted(folder.glob("web-*.jsonl"))
    assert len(files) == 2 and files == sorted(w.published)
    rows = [json.loads(line) for p in files for line in p.read_text().splitlines()]
    assert [r["i"] for r in rows] == list(range(51)) and w.acknowledged == 51
    assert not list(folder.glob(".*"))
    pending = Landing(str(tmp_path / "landing")).pending("responses")
    assert [f.name for f in pending] == [p.name for p in files]


def test_recover_publishes_a_dead_writers_file_and_cuts_a_torn_line(tmp_path):
    folder = tmp_path / "responses"
    folder.mkdir()
    part = folder / ".web-host-123-000001.jsonl.part"
    part.write_bytes(b'{"i":1}\n{"i":2}\n{"i":3,"comm')  # killed in the middle of the third write
    empty = folder / ".web-host-124-000001.jsonl.part"
    empty.write_bytes(b'{"torn')
    # A file a live writer holds is left alone.
    live = folder / ".web-host-125-000001.jsonl.part"
    live.write_bytes(b'{"i":9}\n')
    import fcntl

    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        out = recover(folder)
    finally:
        os.close(fd)
    assert len(out) == 1 and out[0].name.startswith("web-") and out[0].name.endswith("-recovered-000001.jsonl")
    assert out[0].read_bytes() == b'{"i":1}\n{"i":2}\n'
    assert not empty.exists() and live.exists()


def test_recover_leaves_a_just_created_file_to_its_writer(tmp_path):
    """Two servers on one folder: one starting (recover) while the other has created its next
    part file but not yet locked it. The fresh empty file is the writer's, not an orphan."""
    folder = tmp_path / "responses"
    folder.mkdir()
    fresh = folder / ".web-host-200-000001.jsonl.part"
    fresh.write_bytes(b"")
    assert recover(folder) == [] and fresh.exists()

    async def writer() -> ResponseLog:
        w = ResponseLog(folder, rotate_seconds=60)
        w._open()  # noqa: SLF001 - created and locked, nothing written yet
        assert recover(folder) == [] and w.pending_part().exists()
        await w.append({"i": 1})
        await w.close()
        return w

    w = asyncio.run(writer())
    assert [p.read_bytes() for p in w.published] == [b'{"i":1}\n']
    orphan = folder / ".web-host-201-000001.jsonl.part"
    orphan.write_bytes(b"")
    os.utime(orphan, (time.time() - 120, time.time() - 120))  # a server killed right after creating it
    assert recover(folder) == [] and not orphan.exists() and fresh.exists()


def test_event_files_appear_whole(tmp_path):
    p = write_event(tmp_path / "events", {"event": "unsubscribe", "survey_id": "S-1"}, "unsubscribe")
    assert p.name.startswith("web-") and p.name.endswith("-unsubscribe.json")
    assert json.loads(p.read_text()) == {"event": "unsubscribe", "survey_id": "S-1"}
    assert [x.name for x in (tmp_path / "events").iterdir()] == [p.name]


def _post_answers(base: str, n: int, acked: list, stop: threading.Event) -> None:
    from nps.tokens import split_secrets
    from nps.web.guards import FormTokens

    forms = FormTokens(split_secrets(SECRET))
    now = datetime.now(UTC).replace(tzinfo=None)
    for i in range(n):
        if stop.is_set():
            return
        sid = f"SK{i:05d}"
        body = urllib.parse.urlencode({"t": SIGNER.sign(sid, "nps", 9, now, "en"), "csrf": forms.issue(sid),
                                       "score": str(i % 11), "comment": f"kill-{i}"}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(f"{base}/s", data=body), timeout=5) as r:
                if r.status == 200:
                    acked.append(f"kill-{i}")
        except OSError:
            return  # killed: this one was never acknowledged


def test_sigkill_mid_load_loses_no_acknowledged_answer(tmp_path):
    from tests.web.helpers import config_dict

    cfg = config_dict(rate_limit_per_address=10**6)
    acked: list[str] = []
    stop = threading.Event()
    with server(tmp_path, config=cfg, env={"NPS_WEB_ROTATE_SECONDS": "0.2"}) as (base, proc):
        threads = [threading.Thread(target=_post_answers, args=(base, 100_000, acked, stop)) for _ in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
    assert len(acked) >= 300
    folder = tmp_path / "landing" / "responses"
    recover(folder)  # what the next start does
    got = {a["comment"] for a in answers(tmp_path / "landing")}
    assert set(acked) <= got, f"lost {len(set(acked) - got)} acknowledged answers"
    assert not list(folder.glob(".*"))


def test_ingestion_loads_the_pages_answers_and_turns_unsubscribes_into_suppressions(warehouse, tmp_path, monkeypatch):
    """The page's files through the real ingestion: answers counted, the latest wins, an
    unsubscribe without an address suppresses the survey's contact."""
    from starlette.testclient import TestClient

    from nps.ingest.events import ingest_events
    from nps.ingest.landing import Landing
    from nps.ingest.load import ingest_responses
    from nps.web.app import create_app
    from tests.ingest.conftest import insert_ledger, ledger_frame
    from tests.web.helpers import settings

    wh = warehouse
    insert_ledger(wh, ledger_frame())  # S-NPS-1..3, S-CSAT-1, S-CES-1 sent 2026-11-02 09:00 to P0000001..5
    with wh.begin() as conn:
        wh.run_sql(conn, "INSERT INTO src.contacts VALUES ('P0000003', 'A000001', 'Cy', 'Nowak', 'Cy.Nowak@Example.com',"
                         " 'user', 'pl', TRUE, TIMESTAMP '2026-01-01 00:00:00')")
    sent = datetime(2026, 11, 2, 9, 0)
    s = settings(tmp_path, now=datetime(2026, 11, 3, 10, 0))
    landing = s.landing
    with TestClient(create_app(s), base_url="http://127.0.0.1") as c:
        import re

        def answer(sid: str, stype: str, clicked: int, score: int, comment: str = "") -> None:
            page = c.get("/s", params={"t": SIGNER.sign(sid, stype, clicked, sent, "en")}).text
            f = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
            assert c.post("/s", data={**f, "score": str(score), "comment": comment}).status_code == 200

        answer("S-NPS-1", "nps", 9, 9)
        s.fake_now_file.write_text("2026-11-03T10:05:00")
        answer("S-NPS-1", "nps", 9, 4, "Zmieniam zdanie: wsparcie jest wolne")  # changed their mind
        answer("S-CSAT-1", "csat", 5, 5)
        unsub = c.get("/unsubscribe", params={"t": SIGNER.sign("S-NPS-3", "nps", None, sent, "pl")}).text
        f = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', unsub))
        assert c.post("/unsubscribe", data=f).status_code == 200
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-11-03T12:00:00")
    ev = ingest_events(wh, Landing(str(landing)))
    res = ingest_responses(wh, Landing(str(landing)), secret=SECRET, config=s.config)
    assert [(r.rows_read, r.rows_loaded, r.rows_quarantined) for r in ev] == [(1, 1, 0)]
    assert sum(r.rows_read for r in res) == 3 and sum(r.rows_loaded for r in res) == 3
    assert sum(r.rows_quarantined for r in res) == 0
    rows = wh.query("SELECT survey_id, score, comment, locale, responded_at FROM ops.raw_responses ORDER BY responded_at, survey_id")
    assert [(r["survey_id"], r["score"], r["comment"], str(r["responded_at"])) for r in rows] == [
        ("S-NPS-1", 9, None, "2026-11-03 10:00:00"),
        ("S-CSAT-1", 5, None, "2026-11-03 10:05:00"),
        ("S-NPS-1", 4, "Zmieniam zdanie: wsparcie jest wolne", "2026-11-03 10:05:00"),
    ]
    sup = wh.query("SELECT email, reason, contact_id FROM ops.suppressions")
    assert [(x["email"], x["reason"], x["contact_id"]) for x in sup] == [("cy.nowak@example.com", "unsubscribe", "P0000003")]
    assert wh.scalar("SELECT SUM(rows_read) - SUM(rows_loaded + rows_quarantined + rows_duplicate) FROM ops.ingest_files") == 0
    assert not list((landing / "responses").glob("*")) or all(p.name.startswith(".") for p in (landing / "responses").iterdir())


def test_sigusr1_publishes_the_open_file_now(tmp_path):
    acked: list[str] = []
    stop = threading.Event()
    with server(tmp_path, env={"NPS_WEB_ROTATE_SECONDS": "86400"}) as (base, proc):
        _post_answers(base, 3, acked, stop)
        folder = tmp_path / "landing" / "responses"
        assert len(acked) == 3 and len(list(folder.glob(".web-*.part"))) == 1 and not list(folder.glob("web-*"))
        os.kill(proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while list(folder.glob(".web-*.part")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [published] = list(folder.glob("web-*.jsonl"))
        assert [json.loads(x)["comment"] for x in published.read_text().splitlines()] == acked
