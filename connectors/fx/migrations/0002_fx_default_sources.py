"""The two sources of docs/protocols/alerts-fx-customs.md §2.2: CFETS central parity (primary) and the ECB
reference rates (backup, labelled non-official). Operators repoint or disable them in the admin."""

from django.db import migrations

DEFAULTS = [
    {
        "name": "CFETS central parity",
        "kind": "cfets",
        "base_url": "https://www.chinamoney.com.cn",
        "priority": 10,
        "official": True,
    },
    {
        "name": "ECB reference rates (backup)",
        "kind": "ecb",
        "base_url": "https://www.ecb.europa.eu",
        "priority": 20,
        "official": False,
    },
]


def create_sources(apps, schema_editor):
    FxSource = apps.get_model("fx", "FxSource")
    for values in DEFAULTS:
        FxSource.objects.get_or_create(name=values["name"], defaults=values)


def remove_sources(apps, schema_editor):
    FxSource = apps.get_model("fx", "FxSource")
    FxSource.objects.filter(name__in=[v["name"] for v in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("fx", "0001_fx_sources")]

    operations = [migrations.RunPython(create_sources, remove_sources)]
