"""Issue 16 #4: the mapping exports (import-export, admin › Export) never carry a live formula,
and a file exported, edited and imported again keeps its values (M5 round trip)."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from openpyxl import load_workbook

from core.roles import Role
from mappings.models import MaterialMapping
from mappings.services import import_table

pytestmark = pytest.mark.django_db

FIELDS = ("integration", "sku_id", "material_number", "material_name", "unit_factor", "note")
ROWS = [
    ("SKU-EVIL-1", '=HYPERLINK("http://evil.example","x")', "=1+2", "@SUM(A1)"),
    ("SKU-EVIL-2", "+MAT-2", "-cmd|' /C calc'!A0", "\tnote"),
    ("SKU-EVIL-3", "MAT-3", "plain name", "\r=1"),
]


@pytest.fixture
def mdm(django_user_model):
    user = django_user_model.objects.create_user("mdm-export", is_staff=True)
    user.groups.set([Group.objects.get(name=Role.MASTER_DATA_ADMIN)])
    return user


def _export(client, fmt_index: str) -> bytes:
    data = {"resource": "0", "format": fmt_index}
    data.update({f"materialmappingresource_{name}": "on" for name in (*FIELDS, "source")})
    answer = client.post("/admin/mappings/materialmapping/export/", data)
    assert answer.status_code == 200, answer.content[:500]
    return answer.content


def test_mapping_export_neutralises_formulas_and_round_trips(integration, client, mdm):
    """Issue 16 #4 (mappings): GIVEN mapping rows whose codes, names and notes start with
    = + - @, tab or CR WHEN mdm exports them as xlsx and csv from the admin THEN every such
    cell starts with a quote and no workbook cell is a formula, while the unit factor stays a
    number; WHEN the csv is imported again THEN every row is unchanged (the quote comes off)."""
    for sku, material, name, note in ROWS:
        MaterialMapping.objects.create(
            integration=integration,
            sku_id=sku,
            material_number=material,
            material_name=name,
            note=note,
            unit_factor=Decimal("-1.5") if sku.endswith("2") else Decimal("1"),
        )
    client.force_login(mdm)

    book = load_workbook(io.BytesIO(_export(client, "0")))
    sheet = book.worksheets[0]
    assert [c for row in sheet.iter_rows() for c in row if c.data_type == "f"] == []
    header = [c.value for c in sheet[1]]
    cells = {
        row[header.index("sku_id")]: row for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    evil = cells["SKU-EVIL-1"]
    assert evil[header.index("material_number")] == "'" + ROWS[0][1]
    assert evil[header.index("material_name")] == "'=1+2"
    assert evil[header.index("note")] == "'@SUM(A1)"
    assert cells["SKU-EVIL-2"][header.index("material_number")] == "'+MAT-2"

    content = _export(client, "1")
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    header = table[0]
    by_sku = {row[header.index("sku_id")]: row for row in table[1:]}
    assert by_sku["SKU-EVIL-2"][header.index("material_name")] == "'-cmd|' /C calc'!A0"
    assert by_sku["SKU-EVIL-2"][header.index("note")] == "'\tnote"
    assert by_sku["SKU-EVIL-3"][header.index("note")] == "'\r=1"
    assert by_sku["SKU-EVIL-3"][header.index("material_name")] == "plain name"
    assert Decimal(by_sku["SKU-EVIL-2"][header.index("unit_factor")]) == Decimal("-1.5")

    before = {
        m.sku_id: (m.material_number, m.material_name, m.note, m.unit_factor)
        for m in MaterialMapping.objects.all()
    }
    report = import_table(table="material", content=content, file_format="csv", dry_run=False)
    assert not report.row_errors, report.row_errors
    after = {
        m.sku_id: (m.material_number, m.material_name, m.note, m.unit_factor)
        for m in MaterialMapping.objects.all()
    }
    assert after == before
