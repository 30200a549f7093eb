"""The documented example files parse cleanly (docs/examples/)."""

from __future__ import annotations

from pathlib import Path

from nps.ingest.events import normalise, parse_batch
from nps.ingest.readers import read_csv_chunks, read_jsonl_chunks

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_example_response_files_parse():
    with (EXAMPLES / "responses.csv").open("rb") as fh:
        csv_rows = [r for df in read_csv_chunks(fh) for r in df.to_dict("records")]
    with (EXAMPLES / "responses.jsonl").open("rb") as fh:
        jsonl_rows = [r for df in read_jsonl_chunks(fh) for r in df.to_dict("records")]
    assert [r["score"] for r in csv_rows] == ["9", "3", "5", "6"]
    assert [r["score"] for r in jsonl_rows] == ["10", "2", "5"]
    assert all(r["parse_rule"] is None and r["token"].startswith("v1.") for r in csv_rows + jsonl_rows)
    assert csv_rows[1]["comment"] == "Too expensive, and invoices are confusing"


def test_example_event_batch_is_well_formed():
    events = parse_batch((EXAMPLES / "events.json").read_bytes())
    rows = [normalise(e, i)[0] for i, e in enumerate(events, 1)]
    assert all(rows)
    assert [r["event"] for r in rows] == ["processed", "delivered", "delivered", "bounce", "unsubscribe", "open"]
    assert len({r["event_key"] for r in rows}) == 5
