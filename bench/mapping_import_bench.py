"""Benchmark of the mapping import (issue #5): a 10,000-row SKU ↔ material file, dry run,
import and re-import as an update, through mappings.services.import_table (what the admin's
import job runs in the worker), with the progress callback counting its reports.

Not a test. Builds its own PostgreSQL database (dropped and created again).

    .venv/bin/python bench/mapping_import_bench.py --rows 10000 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import configure, log

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--rows", type=int, default=10_000)
parser.add_argument("--runs", type=int, default=3)
parser.add_argument(
    "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_import"
)
parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
ARGS = parser.parse_args()
configure(database_url=ARGS.database_url, redis_url=ARGS.redis_url, port=8768)


def integration():
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.models import KingdeeConnection
    from connectors.models import Integration

    kingdee = KingdeeConnection.objects.create(
        name="Kingdee (bench)",
        server_url="http://127.0.0.1:9/k3cloud/",
        acct_id="bench",
        username="api_user",
        app_id="100001_BENCH",
        app_secret="0" * 32,
        org_number="100",
    )
    jushuitan = JushuitanConnection.objects.create(
        name="Jushuitan (bench)",
        base_url="http://127.0.0.1:9",
        app_key="bench-app-key",
        app_secret="bench-app-secret",
    )
    return Integration.objects.create(
        name="Bench", code="bench", kingdee=kingdee, jushuitan=jushuitan
    )


def csv(rows: int, prefix: str) -> bytes:
    lines = ["integration,sku_id,material_number,unit_factor"]
    lines += [f"bench,SKU-{n:06d},{prefix}-{n:06d},1" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def timed(content: bytes, *, dry_run: bool) -> tuple[float, int, dict]:
    from mappings.services import import_table

    reports = []
    started = time.perf_counter()
    report = import_table(
        table="material",
        content=content,
        file_format="csv",
        dry_run=dry_run,
        progress=lambda done, total: reports.append(done),
    )
    elapsed = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"import failed: {report.row_errors[:3]}")
    return elapsed, len(reports), dict(report.totals)


def main() -> None:
    from mappings.models import MaterialMapping

    integration()
    figures: dict[str, list[float]] = {"dry run": [], "import (new)": [], "import (update)": []}
    progress_reports = 0
    for run in range(ARGS.runs):
        MaterialMapping.objects.all().delete()
        MaterialMapping.history.all().delete()
        new, updated = csv(ARGS.rows, f"MAT{run}"), csv(ARGS.rows, f"NEW{run}")
        for label, content, dry in (
            ("dry run", new, True),
            ("import (new)", new, False),
            ("import (update)", updated, False),
        ):
            seconds, reports, totals = timed(content, dry_run=dry)
            figures[label].append(seconds)
            progress_reports = max(progress_reports, reports)
            log(f"run {run + 1} {label}: {seconds:.2f} s, {reports} progress reports, {totals}")
    print(f"\n=== mapping import, {ARGS.rows} rows, median of {ARGS.runs} runs ===")
    for label, values in figures.items():
        rate = ARGS.rows / statistics.median(values)
        print(f"{label:16}: {statistics.median(values):.2f} s ({rate:,.0f} rows/s)")
    print(f"progress reports per import: {progress_reports}")


if __name__ == "__main__":
    main()
