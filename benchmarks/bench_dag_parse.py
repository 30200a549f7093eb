"""DAG parse time per file, measured as Airflow's DagBag measures it (FileLoadStat.duration).

Each sample is a fresh Python process that imports Airflow, then loads one DAG file with a
DagBag, the way the DAG processor does; the figure is the median of the samples.
Target: every file under 0.5 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = 5
PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
stats = bag.dagbag_stats
assert not bag.import_errors, bag.import_errors
print(json.dumps([s.duration.total_seconds() if hasattr(s.duration, "total_seconds") else float(s.duration) for s in stats]))
"""


def main() -> None:
    worst = 0.0
    for path in sorted((ROOT / "dags").glob("*.py")):
        samples = []
        for _ in range(SAMPLES):
            out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True, cwd=ROOT)
            samples.append(sum(json.loads(out.stdout.strip().splitlines()[-1])))
        med = statistics.median(samples)
        worst = max(worst, med)
        print(f"bench dag_parse_{path.stem}_s {med:.3f} s", flush=True)
    print(f"bench dag_parse_max_s {worst:.3f} s")


if __name__ == "__main__":
    main()
