"""PostgreSQL: vacuum and analyse the documents table far more often than the default.

Every state change of a document rewrites its row (state is indexed, so no HOT update) and
leaves dead entries in the (flow, state) index. With the default thresholds (20% of the
table) a 50,000-document burst piles up ~100,000 dead entries before autovacuum runs, and
each claim's bitmap scan wades through them (150 ms per claim measured by
bench/material_sync_bench.py). Nothing to do on other databases.
"""

from django.db import migrations

TABLES = ("flows_syncdocument",)
TUNED = (
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000"
)
DEFAULTS = (
    "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
    "autovacuum_analyze_scale_factor, autovacuum_analyze_threshold"
)


def tune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} SET ({TUNED})")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} RESET ({DEFAULTS})")


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0005_watermark_catchup_ts"),
    ]

    operations = [
        migrations.RunPython(tune, untune, elidable=False),
    ]
