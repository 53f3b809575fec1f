"""Issue 21 point 2 (K2): declarations, purchase VAT invoices and FX receipts read from the
Kingdee forms where the tenant keeps them (finance.kingdee_sources), through the Kingdee
sandbox over HTTP: a customs-declaration form the tenant built in BOS, IV_PURCHASEIC and
AR_RECEIVEBILL; the same checks as the workbook import; the Kingdee preflight proves the
configured forms and keys; the refund estimate follows the enterprise type."""

import json
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from connectors.kingdee.client import KingdeeClient
from connectors.preflight import checks_of, preflight_run
from finance import declarations as imp
from finance.choices import DeclarationSource, EnterpriseType, KingdeeSourceKind
from finance.export_chain import declaration_chain
from finance.kingdee_sources import DECLARATION_FORM, kingdee_pull
from finance.models import (
    CustomsDeclaration,
    DeclarationItem,
    FinanceSettings,
    FxReceipt,
    KingdeeSource,
    PurchaseInvoice,
)
from finance.tasks import kingdee_declarations
from mappings.rates import policy_rate_for
from sandbox.kingdee import bos
from tests.finance.test_declarations import _item, workbook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

D1, D2 = "531620260000000101", "531620260000000102"


def _declaration(number, items, *, mode="9810", ago=12, hs="8507600090"):
    exported = (timezone.localdate() - timedelta(days=ago)).isoformat()
    return {
        "FDate": exported,
        "F_PAEZ_DeclarationNo": number,
        "F_PAEZ_Mode": mode,
        "F_PAEZ_ExportDate": exported,
        "F_PAEZ_Country": "US",
        "F_PAEZ_ReferenceNo": "FBA17K2KD",
        "F_PAEZ_ShopIds": "10001",
        "F_PAEZ_ExportInvoiceNo": f"EXP-{number[-3:]}",
        "FEntity": [
            {
                "F_PAEZ_ItemNo": item_no,
                "F_PAEZ_HSCode": hs,
                "F_PAEZ_GoodsName": "移动电源",
                "F_PAEZ_SkuId": sku,
                "F_PAEZ_Qty": qty,
                "F_PAEZ_LegalUnit": "个",
                "F_PAEZ_LegalQty": qty,
                "F_PAEZ_FobUsd": fob,
                "F_PAEZ_HwcYt": hwc,
            }
            for item_no, sku, qty, fob, hwc in items
        ],
    }


def _tenant_books(client, *, declarations, invoices=(), receipts=(), audit=True):
    """What finance keeps in Kingdee, saved through the WebAPI as the tenant's users would."""
    for model in declarations:
        assert client.save(DECLARATION_FORM, model, auto_submit_audit=audit).ok
    for number, item_no, invoice_no, amount, tax in invoices:
        model = {
            "FDate": timezone.localdate().isoformat(),
            "FSUPPLIERID": {"FNumber": "SUP001"},
            "FINVOICENO": invoice_no,
            "FINVOICEDATE": timezone.localdate().isoformat(),
            "FHEADAUXPRICEFOR": amount,
            "FTAXAMOUNTFOR": tax,
            "F_PAEZ_DeclarationNo": number,
            "F_PAEZ_DeclItemNo": item_no,
        }
        assert client.save("IV_PURCHASEIC", model, auto_submit_audit=True).ok
    for number, currency, amount in receipts:
        model = {
            "FDate": timezone.localdate().isoformat(),
            "FCURRENCYID": {"FNumber": currency},
            "FREALRECAMOUNTFOR": amount,
            "F_PAEZ_DeclarationNo": number,
        }
        assert client.save("AR_RECEIVEBILL", model, auto_submit_audit=True).ok


@pytest.fixture
def kingdee(demo_integration):
    client = KingdeeClient(demo_integration.kingdee)
    yield client
    client.http.close()


def test_issue_21_declarations_invoices_and_receipts_pulled_from_kingdee(demo_integration, kingdee):
    """Issue 21 points 1 and 2: GIVEN the demo's Kingdee sources (a declaration form built in
    BOS, IV_PURCHASEIC, AR_RECEIVEBILL) and, in the Kingdee sandbox, one audited declaration
    with two items, one declaration only saved (not audited), a purchase VAT invoice tied to
    item 1 and a USD receipt WHEN finance pulls (dry run first) THEN the dry run writes
    nothing; the pull creates the audited declaration only (source Kingdee) with its items'
    HS code, legal units, FOB USD and HWC-YT flag, links the invoice to item 1 and the
    receipt (its Kingdee currency number read as USD) to the declaration; pulling again
    (the hourly task) changes nothing; item 1 has its refund estimate."""
    assert set(
        KingdeeSource.objects.filter(integration=demo_integration).values_list("kind", flat=True)
    ) == set(KingdeeSourceKind.values)
    _tenant_books(
        kingdee,
        declarations=[
            _declaration(
                D1,
                [(1, "SKU-PB-1001", 10, "185.00", True), (2, "SKU-EAR-1101", 4, "60.00", False)],
            )
        ],
        invoices=[(D1, 1, "24442000000000000101", "1000.00", "130.00")],
        receipts=[(D1, "PRE007", "245.00")],
    )
    _tenant_books(
        kingdee, declarations=[_declaration(D2, [(1, "SKU-PB-1001", 3, "55.50", 0)])], audit=False
    )

    dry = kingdee_pull(integration=demo_integration, dry_run=True)
    assert dry.ok, [str(p) for p in dry.problems]
    assert (dry.declarations, dry.items, dry.invoices, dry.receipts) == (1, 2, 1, 1)
    assert not CustomsDeclaration.objects.filter(integration=demo_integration).exists()

    report = kingdee_pull(integration=demo_integration)
    assert report.ok and report.created == 1
    declaration = CustomsDeclaration.objects.get(integration=demo_integration)
    assert (declaration.declaration_no, declaration.mode, declaration.source) == (
        D1,
        "9810",
        DeclarationSource.KINGDEE,
    )
    assert declaration.reference_no == "FBA17K2KD" and declaration.export_invoice_no == "EXP-101"
    power, ear = declaration.items.order_by("item_no")
    assert (power.sku_id, power.hs_code, power.quantity, power.legal_unit, power.legal_qty) == (
        "SKU-PB-1001",
        "8507600090",
        Decimal(10),
        "个",
        Decimal(10),
    )
    assert (power.fob_usd, power.hwc_yt, ear.fob_usd, ear.hwc_yt) == (
        Decimal("185.00"),
        True,
        Decimal("60.00"),
        False,
    )
    invoice = PurchaseInvoice.objects.get()
    assert (invoice.item_id, invoice.invoice_no, invoice.amount, invoice.tax) == (
        power.pk,
        "24442000000000000101",
        Decimal("1000.00"),
        Decimal("130.00"),
    )
    receipt = FxReceipt.objects.get()
    assert (receipt.declaration_id, receipt.currency, receipt.amount) == (
        declaration.pk,
        "USD",
        Decimal("245.00"),
    )
    source = KingdeeSource.objects.get(integration=demo_integration, kind="declarations")
    assert source.last_pulled_at and "1 declarations (2 items)" in source.last_result

    [done] = kingdee_declarations(demo_integration.pk)
    assert done["ok"], done
    assert CustomsDeclaration.objects.count() == 1 and DeclarationItem.objects.count() == 2
    assert PurchaseInvoice.objects.count() == 1 and FxReceipt.objects.count() == 1
    assert set(DeclarationItem.objects.values_list("pk", flat=True)) == {power.pk, ear.pk}

    chain = declaration_chain(integration=demo_integration)
    row = next(i for i in chain.items if i.item_no == 1)
    assert row.estimated_refund == Decimal("130.00") and row.refund_basis == Decimal("1000.00")


def test_issue_21_kingdee_rows_go_through_the_import_checks(demo_integration, kingdee):
    """Issue 21 point 1 (one validation path): GIVEN an audited declaration in Kingdee with a
    9-digit HS code and mode 9999, and an invoice for an item no declaration has WHEN pulled
    THEN each problem is named by form, row and column with the very message the workbook
    import gives for the same cells, and nothing is written (all or nothing)."""
    _tenant_books(
        kingdee,
        declarations=[
            _declaration(D1, [(1, "SKU-PB-1001", 2, "37.00", False)], hs="850760009", mode="9999")
        ],
        invoices=[(D1, 7, "24442000000000000107", "100.00", "13.00")],
    )
    report = kingdee_pull(integration=demo_integration)
    pulled = {(p.sheet, p.row, p.column): p.message for p in report.problems}
    assert set(pulled) == {
        (DECLARATION_FORM, 1, "mode"),
        (DECLARATION_FORM, 1, "hs_code"),
        ("IV_PURCHASEIC", 1, "item_no"),
    }, pulled
    assert not CustomsDeclaration.objects.exists() and not PurchaseInvoice.objects.exists()

    content = workbook(
        [_item(D1, 1, "9999", 5, "SKU-PB-1001", 2, hs="850760009")],
        invoices=[(D1, 7, "24442000000000000107", "2026-01-01", "100.00", "13.00")],
    )
    imported = imp.declarations_import(integration=demo_integration, content=content)
    by_column = {p.column: p.message for p in imported.problems}
    assert by_column == {column: message for (_s, _r, column), message in pulled.items()}
    source = KingdeeSource.objects.get(integration=demo_integration, kind="invoices")
    assert "3 problems, nothing written" in source.last_result


def test_issue_21_preflight_proves_the_configured_forms_and_keys(demo_integration):
    """Issue 21 point 1: GIVEN the demo's Kingdee sources WHEN the Kingdee preflight runs THEN
    it reads the BOS declaration form, IV_PURCHASEIC and AR_RECEIVEBILL and every configured
    key (all pass on the demo tenant); after the tenant drops F_PAEZ_HwcYt in BOS and finance
    names a receipts form that does not exist, the preflight names the missing field with
    the fix and the unreadable form, under K2 (gating no flow)."""
    run = preflight_run(integration=demo_integration, systems=["kingdee"], requested_by="test")
    checks = {c.key: c for c in checks_of(run)}
    for key in (
        f"kingdee.form.{DECLARATION_FORM}",
        f"kingdee.field.{DECLARATION_FORM}.F_PAEZ_HwcYt",
        f"kingdee.field.{DECLARATION_FORM}.F_PAEZ_ItemNo",
        "kingdee.form.IV_PURCHASEIC",
        "kingdee.field.IV_PURCHASEIC.FINVOICENO",
        "kingdee.field.IV_PURCHASEIC.F_PAEZ_DeclItemNo",
        "kingdee.field.AR_RECEIVEBILL.FCURRENCYID.FNumber",
    ):
        assert checks[key].ok, (key, checks[key].detail)
    assert checks[f"kingdee.field.{DECLARATION_FORM}.F_PAEZ_HwcYt"].flows == ("K2",)

    bos.undeclare(DECLARATION_FORM, "F_PAEZ_HwcYt")
    KingdeeSource.objects.filter(integration=demo_integration, kind="receipts").update(
        form_id="PAEZ_NoSuchForm"
    )
    run = preflight_run(integration=demo_integration, systems=["kingdee"], requested_by="test")
    failed = {c.key: c for c in checks_of(run) if not c.ok}
    hwc = failed[f"kingdee.field.{DECLARATION_FORM}.F_PAEZ_HwcYt"]
    assert "MsgCode 9" in hwc.detail
    assert hwc.fix.startswith("Create check box field F_PAEZ_HwcYt on the")
    assert "entry rows" in hwc.fix
    assert "kingdee.form.PAEZ_NoSuchForm" in failed
    assert set(failed) == {
        f"kingdee.field.{DECLARATION_FORM}.F_PAEZ_HwcYt",
        "kingdee.form.PAEZ_NoSuchForm",
    }


def test_issue_21_admin_pulls_from_kingdee(demo_integration, kingdee, admin_client):
    """Issue 21 point 1: GIVEN an audited declaration in Kingdee WHEN finance runs the admin
    action "Pull from Kingdee now" on the sources THEN the declaration is imported and the
    page says what was read."""
    _tenant_books(kingdee, declarations=[_declaration(D1, [(1, "SKU-PB-1001", 2, "37.00", 0)])])
    ids = KingdeeSource.objects.filter(integration=demo_integration).values_list("pk", flat=True)
    page = admin_client.post(
        "/admin/finance/kingdeesource/",
        {"action": "pull_now", "_selected_action": list(ids)},
        follow=True,
        headers={"accept-language": "en"},
    )
    assert page.status_code == 200
    assert "1 declarations (1 items), 0 purchase invoices, 0 FX receipts read" in page.text
    assert CustomsDeclaration.objects.get().source == DeclarationSource.KINGDEE


def test_issue_21_refund_estimate_by_enterprise_type(demo_integration):
    """Issue 21 point 3: GIVEN a 0110 item of FOB 100 USD with a purchase VAT invoice of
    1,000.00 excl. VAT and a 13 % template WHEN the tenant is a trading company (外贸企业)
    THEN the refund is 1,000.00 × 13 % = 130.00; WHEN a manufacturer (生产企业, 免抵退) THEN it
    is FOB × the USD rate the FX policy gives for the export date × 13 %, the basis names
    FOB, rate and rate date, and a missing
    purchase invoice is no gap for the manufacturer (it is for the trading company)."""
    content = workbook(
        [
            _item(D1, 1, "0110", 3, "SKU-PB-1001", 10, fob="100.00"),
            _item(D1, 2, "0110", 3, "SKU-EAR-1101", 4, fob="40.00"),
        ],
        invoices=[(D1, 1, "24442000000000000201", "2026-01-01", "1000.00", "130.00")],
        receipts=[(D1, "PAY-201", "2026-02-01", "USD", "140.00")],
    )
    assert imp.declarations_import(integration=demo_integration, content=content, dry_run=False).ok
    first, second = declaration_chain(integration=demo_integration).items
    assert (first.refund_basis, first.estimated_refund) == (Decimal("1000.00"), Decimal("130.00"))
    assert second.estimated_refund is None
    assert "no purchase VAT invoice (进项专票)" in second.gaps

    FinanceSettings.objects.update_or_create(
        integration=demo_integration, defaults={"enterprise_type": EnterpriseType.MANUFACTURER}
    )
    first, second = declaration_chain(integration=demo_integration).items
    quote = policy_rate_for(
        integration=demo_integration, currency="USD", business_date=first.export_date
    )
    usd = quote.cny_per_unit
    assert Decimal("6") < usd < Decimal("8")
    basis = (Decimal("100.00") * usd).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert first.refund_basis == basis
    assert first.estimated_refund == (basis * Decimal("0.13")).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    assert first.estimated_refund != Decimal("130.00")
    assert "生产企业 免抵退" in first.basis_note and "FOB 100.00 USD" in first.basis_note
    assert quote.rate_date.isoformat() in first.basis_note
    assert second.estimated_refund is not None
    assert not any("purchase VAT invoice" in gap for gap in second.gaps)


def test_issue_21_material_read_from_kingdee_is_mapped_to_its_sku(demo_integration, kingdee):
    """Issue 21 point 1 (SKU/material): GIVEN a declarations source that names the Kingdee
    material (material_number) instead of the SKU, and two items in Kingdee, one of a mapped
    material and one of a material no mapping knows WHEN pulled THEN the unknown material is
    a problem on its row (nothing written); once that item is corrected in Kingdee the pull
    stores the item under the material's Jushuitan SKU."""
    from mappings.selectors import MappingBinder

    source = KingdeeSource.objects.get(integration=demo_integration, kind="declarations")
    source.fields = {
        **{k: v for k, v in source.fields.items() if k != "sku_id"},
        "material_number": "F_PAEZ_SkuId",
    }
    source.full_clean()
    source.save()
    material = MappingBinder(demo_integration).material.to_external("SKU-PB-1001")
    model = _declaration(D1, [(1, material, 2, "37.00", 0), (2, "MAT-NOBODY-1", 1, "9.00", 0)])
    _tenant_books(kingdee, declarations=[model], audit=False)
    report = kingdee_pull(integration=demo_integration)
    assert report.ok  # only audited bills are read: nothing yet
    assert kingdee.submit(DECLARATION_FORM, numbers=[_bill_no(kingdee, D1)]).ok
    assert kingdee.audit(DECLARATION_FORM, numbers=[_bill_no(kingdee, D1)]).ok
    report = kingdee_pull(integration=demo_integration)
    [problem] = report.problems
    assert (problem.sheet, problem.row, problem.column) == (DECLARATION_FORM, 2, "material_number")
    assert "MAT-NOBODY-1" in problem.message
    assert not DeclarationItem.objects.exists()

    number = _bill_no(kingdee, D1)
    assert kingdee.unaudit(DECLARATION_FORM, numbers=[number]).ok
    [fid] = kingdee.execute_bill_query(DECLARATION_FORM, ["FID"], f"FBillNo = '{number}'")[0]
    fixed = {**model, "FID": fid, "FEntity": model["FEntity"][:1]}
    assert kingdee.save(DECLARATION_FORM, fixed, auto_submit_audit=True).ok
    assert kingdee_pull(integration=demo_integration).ok
    assert list(DeclarationItem.objects.values_list("sku_id", flat=True)) == ["SKU-PB-1001"]


def _bill_no(client, declaration_no: str) -> str:
    rows = client.execute_bill_query(
        DECLARATION_FORM, ["FBillNo"], f"F_PAEZ_DeclarationNo = '{declaration_no}'"
    )
    return rows[0][0]


def test_issue_21_admin_refuses_a_field_map_without_the_required_columns(
    demo_integration, admin_client
):
    """Issue 21 point 1: GIVEN the admin form of a Kingdee source WHEN finance saves a map
    with an unknown column, a key that is not a Kingdee field key and no FOB column THEN the
    form is refused naming each, and the stored map is unchanged."""
    source = KingdeeSource.objects.get(integration=demo_integration, kind="declarations")
    fields = {**source.fields, "fob": "F_PAEZ_FobUsd", "mode": "F PAEZ Mode"}
    del fields["fob_usd"]
    page = admin_client.post(
        f"/admin/finance/kingdeesource/{source.pk}/change/",
        {
            "integration": demo_integration.pk,
            "kind": "declarations",
            "enabled": "on",
            "form_id": DECLARATION_FORM,
            "fields": json.dumps(fields),
            "entry_key": "FEntity",
            "filter_string": "FDocumentStatus = 'C'",
        },
        headers={"accept-language": "en"},
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "&#x27;fob&#x27; is not a column" in text
    assert "mode: &#x27;F PAEZ Mode&#x27; is not a Kingdee field key" in text
    assert "fob_usd is required" in text
    source.refresh_from_db()
    assert source.fields["fob_usd"] == "F_PAEZ_FobUsd"
