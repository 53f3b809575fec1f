"""Bulk import / export of the mapping tables: dry run, per-row errors, all or nothing,
xlsx round trip, admin preview and templates, history of every change (M1–M8)."""

import pytest
import tablib
from django.contrib.auth import get_user_model

from mappings.choices import MappingSource
from mappings.models import MaterialMapping, ShopCustomerMapping
from mappings.services import import_table, import_template

pytestmark = pytest.mark.django_db

CSV_OK = (
    "integration,shop_id,shop_name,customer_number,sale_org_number,settle_currency,note\n"
    "main,10001,Amazon US,10001,100,USD,\n"
    "main,10005,Amazon DE Shop,CUST-AMZ-DE,100,EUR,Kingdee code differs\n"
)


def _csv(rows: list[str], header: str = "integration,sku_id,material_number,unit_factor") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_dry_run_previews_and_writes_nothing(integration):
    """M1: a dry run reports what would happen and leaves the table as it was."""
    report = import_table(
        table="shop_customer", content=CSV_OK.encode(), file_format="csv", dry_run=True
    )
    assert report.ok and report.totals["new"] == 2
    assert not ShopCustomerMapping.objects.exists()


def test_import_creates_explicit_rows_with_history(integration, admin_user):
    """M1 + M8: imported rows are explicit and their history names who imported them."""
    report = import_table(
        table="shop_customer",
        content=CSV_OK.encode(),
        file_format="csv",
        dry_run=False,
        user=admin_user,
    )
    assert report.ok, report.row_errors
    row = ShopCustomerMapping.objects.get(shop_id="10005")
    assert (row.customer_number, row.source, row.settle_currency) == (
        "CUST-AMZ-DE",
        "explicit",
        "EUR",
    )
    record = row.history.get()
    assert record.history_user == admin_user and record.history_type == "+"


@pytest.mark.usefixtures("english")
def test_one_bad_row_rejects_the_whole_file_with_row_numbers(integration):
    """M4: GIVEN a file with good rows, an unknown integration, a duplicate key and a bad
    number WHEN imported THEN every error names its row and nothing at all is imported."""
    content = _csv(
        [
            "main,SKU-1,MAT-1,1",
            "nowhere,SKU-2,MAT-2,1",
            "main,SKU-1,MAT-9,1",
            "main,SKU-3,MAT-3,abc",
            "main,SKU-4,MAT-1,1",
            "main,SKU-5,MAT-5,1",
        ]
    )
    report = import_table(table="material", content=content, file_format="csv", dry_run=False)
    assert not report.ok
    rows = {number for number, _message in report.row_errors}
    assert rows == {2, 3, 4, 5}
    messages = " ".join(message for _n, message in report.row_errors)
    assert "nowhere" in messages and "row 1" in messages and "MAT-1" in messages
    assert not MaterialMapping.objects.exists()


def test_reimport_skips_unchanged_rows_and_makes_changed_rows_explicit(integration):
    """M4: rows initialised by rule stay as they are when re-imported unchanged; a changed
    row becomes explicit and its history shows before / after (M8)."""
    MaterialMapping.objects.create(
        integration=integration, sku_id="SKU-1", material_number="SKU-1", source=MappingSource.RULE
    )
    MaterialMapping.objects.create(
        integration=integration, sku_id="SKU-2", material_number="SKU-2", source=MappingSource.RULE
    )
    exported = import_template(table="material", file_format="csv")
    assert exported.splitlines()[0].startswith("integration,sku_id,material_number")
    content = _csv(["main,SKU-1,SKU-1,1", "main,SKU-2,MAT-2-NEW,1"])
    report = import_table(table="material", content=content, file_format="csv", dry_run=False)
    assert report.ok, report.row_errors
    assert (report.totals["skip"], report.totals["update"]) == (1, 1)
    unchanged = MaterialMapping.objects.get(sku_id="SKU-1")
    changed = MaterialMapping.objects.get(sku_id="SKU-2")
    assert unchanged.source == MappingSource.RULE
    assert (changed.material_number, changed.source) == ("MAT-2-NEW", MappingSource.EXPLICIT)
    latest = changed.history.first()
    delta = latest.diff_against(latest.prev_record)
    assert {c.field for c in delta.changes} >= {"material_number", "source"}


def test_xlsx_round_trip(integration):
    """M1: an xlsx file (codes typed as numbers by the spreadsheet) imports like csv."""
    sheet = tablib.Dataset(headers=["integration", "shop_id", "customer_number"])
    sheet.append(["main", 10002, 10002])
    sheet.append(["main", 10005.0, "CUST-AMZ-DE"])
    report = import_table(
        table="shop_customer", content=sheet.export("xlsx"), file_format="xlsx", dry_run=False
    )
    assert report.ok, report.row_errors
    assert set(ShopCustomerMapping.objects.values_list("shop_id", "customer_number")) == {
        ("10002", "10002"),
        ("10005", "CUST-AMZ-DE"),
    }


def test_admin_offers_the_templates(integration, admin_client):
    """M1: the admin's list of a mapping table offers the import templates (xlsx and csv).
    The upload, its progress and its preview are in test_import_progress.py."""
    url = "/admin/mappings/materialmapping/"
    page = admin_client.get(url)
    assert b"template/xlsx/" in page.content and b"template/csv/" in page.content
    template = admin_client.get(f"{url}template/xlsx/")
    assert template.status_code == 200
    assert tablib.Dataset().load(template.content, format="xlsx").headers[:3] == [
        "integration",
        "sku_id",
        "material_number",
    ]
    assert (
        admin_client.get(f"{url}template/csv/")
        .content.decode()
        .startswith("integration,sku_id,material_number")
    )


def test_admin_edit_is_recorded_in_history(integration, admin_client):
    """M8: a change in the admin is in the history with who made it and the values before."""
    row = MaterialMapping.objects.create(
        integration=integration, sku_id="SKU-1", material_number="A"
    )
    answer = admin_client.post(
        f"/admin/mappings/materialmapping/{row.pk}/change/",
        {
            "integration": integration.pk,
            "source": "explicit",
            "note": "renumbered",
            "sku_id": "SKU-1",
            "material_number": "B",
            "material_name": "",
            "unit_factor": "1",
        },
    )
    assert answer.status_code == 302, answer.content[:2000]
    latest = row.history.first()
    assert latest.history_user == get_user_model().objects.get(username="admin")
    assert latest.prev_record.material_number == "A" and latest.material_number == "B"
    assert admin_client.get(f"/admin/mappings/materialmapping/{row.pk}/history/").status_code == 200


def test_ten_thousand_rows_import_new_then_update(integration):
    """M4: a 10,000-row file imports (with history), and again as an update. How fast is
    bench/mapping_import_bench.py's figure (no timed assertions in tests)."""
    rows = [f"main,SKU-{n:05d},MAT-{n:05d},1" for n in range(10_000)]
    report = import_table(table="material", content=_csv(rows), file_format="csv", dry_run=False)
    assert report.ok and report.totals["new"] == 10_000
    changed = [f"main,SKU-{n:05d},NEW-{n:05d},1" for n in range(10_000)]
    report = import_table(table="material", content=_csv(changed), file_format="csv", dry_run=False)
    assert report.ok and report.totals["update"] == 10_000
    assert MaterialMapping.history.count() == 20_000
    assert MaterialMapping.objects.filter(material_number__startswith="NEW-").count() == 10_000


@pytest.mark.parametrize(
    "model",
    [
        "shopcustomermapping",
        "warehousemapping",
        "suppliermapping",
        "materialmapping",
        "codemapping",
        "taxtemplate",
        "accountmapping",
        "exchangerate",
        "knowncode",
        "ratefetch",
    ],
)
def test_admin_lists_render(integration, admin_client, model):
    """M1–M8: every mappings table has a working admin list (with import/export where it
    applies) and an add form (where people add rows)."""
    MaterialMapping.objects.create(
        integration=integration, sku_id="SKU-1", material_number="SKU-1", source=MappingSource.RULE
    )
    page = admin_client.get(f"/admin/mappings/{model}/")
    assert page.status_code == 200
    if model != "ratefetch":
        assert admin_client.get(f"/admin/mappings/{model}/add/").status_code == 200
