"""Demo-data generator at benchmark scale: 1,000,000 contacts generated and loaded into DuckDB.

Prints the generation and load seconds and the peak memory of the process.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from nps.config import load_config  # noqa: E402
from nps.demo.generator import generate, load_base  # noqa: E402
from nps.warehouse import Warehouse  # noqa: E402


def main() -> None:
    config = load_config()
    t0 = time.monotonic()
    base = generate(config, n_contacts=1_000_000)
    gen_s = time.monotonic() - t0
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(f"duckdb:///{tmp}/bench.duckdb")
        wh.migrate()
        t1 = time.monotonic()
        counts = load_base(wh, base)
        load_s = time.monotonic() - t1
        wh.dispose()
    print(f"bench generator_1m_contacts_rows {counts['src.contacts']} rows")
    print(f"bench generator_1m_contacts_generate_s {gen_s:.1f} s")
    print(f"bench generator_1m_contacts_load_duckdb_s {load_s:.1f} s")
    print(f"bench generator_1m_contacts_peak_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
