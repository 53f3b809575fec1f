"""F6.1 exchange differences against both sandboxes: per line of foreign-currency sales
(synced by F2 from Jushuitan) and purchases (audited in Kingdee), the CNY at the finance rate
booked in Kingdee against the business rate, rounded to the cent, stored per line and posted
once as a balanced GL voucher to the mapped FX gain/loss account."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from finance.choices import FxDocumentKind, VoucherMode, VoucherStatus
from finance.fx_differences import (
    KEY_FIELD,
    fx_differences_collect,
    fx_vouchers_post,
    fx_vouchers_prepare,
)
from finance.models import FinanceSettings, FxDifference, FxVoucher
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run
from mappings.choices import RateType
from mappings.rates import set_manual_rate

pytestmark = pytest.mark.django_db(transaction=True)
CENT = Decimal("0.01")
BUSINESS = Decimal("7.1800")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture
def kd(demo_integration):
    from connectors.kingdee.client import client_for

    return client_for(demo_integration.kingdee)


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def business_rate(demo_integration, today):
    set_manual_rate(
        currency="USD",
        rate_date=today - timedelta(days=3),
        rate_type=RateType.BUSINESS,
        rate=BUSINESS,
    )


def purchase(kd, bill_no: str, on_date, rate: str, lines: list[tuple[str, int, str]]) -> None:
    """An audited USD purchase inbound entered in Kingdee (S2: purchases originate there)."""
    answer = kd.batch_save(
        "STK_InStock",
        [
            {
                "FBillNo": bill_no,
                "FDate": on_date.isoformat(),
                "FStockOrgId": {"FNumber": "100"},
                "FPurchaseOrgId": {"FNumber": "100"},
                "FSupplierId": {"FNumber": "SUP001"},
                "FOwnerTypeIdHead": "BD_OwnerOrg",
                "FOwnerIdHead": {"FNumber": "100"},
                "FInStockFin": {
                    "FSettleCurrId": {"FNumber": "PRE007"},
                    "FExchangeTypeId": {"FNumber": "HLTX01_SYS"},
                    "FExchangeRate": rate,
                },
                "FInStockEntry": [
                    {
                        "FMaterialId": {"FNumber": sku},
                        "FStockId": {"FNumber": "20001"},
                        "FRealQty": qty,
                        "FTaxPrice": price,
                    }
                    for sku, qty, price in lines
                ],
            }
        ],
        auto_submit_audit=True,
    )
    assert answer.ok, answer.errors


def test_f6_1_sales_and_purchase_differences_to_the_cent_posted_once_as_a_balanced_voucher(
    demo_integration, storefront, kd, today, business_rate, celery_worker, wait_until
):
    """F6.1: GIVEN a shipped USD order synced by F2 (finance rate = the parity on the bill)
    and an audited USD purchase booked at 7.1250, with the business rate 7.1800 WHEN the
    differences are collected THEN every line is stored with both CNY amounts rounded
    half-up to the cent (1.00 USD × 7.125 = 7.13, not 7.12) and the difference; WHEN the
    day is posted THEN one audited GL_VOUCHER balances, moves the net gain / loss between the
    mapped FX account (6603.03) and receivable / payable, and a second run posts nothing; a
    voucher whose answer was lost is found by its key and not sent again. (Issue 19 point 4:
    the brief's audited posting stays available as a setting.)"""
    FinanceSettings.objects.create(integration=demo_integration, audit_vouchers=True)
    order = storefront.order(
        so_id="113-0000006-0000006",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-PB-1001", 2, "29.99"), ("SKU-CBL-1201", 1, "8.99")],
        freight="5.99",
        coupon="2.00",
    )
    storefront.place_and_ship(order)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 1, 60)
    purchase(
        kd, "CGRK-FX-1", today, "7.1250", [("SKU-PB-1001", 1, "1.00"), ("SKU-EAR-1101", 3, "12.35")]
    )

    result = fx_differences_collect(integration=demo_integration, start=today, end=today)
    assert result.skipped == [] and result.created == 4
    again = fx_differences_collect(integration=demo_integration, start=today, end=today)
    assert again.created == 0  # one row per line, ever

    doc = SyncDocument.objects.get(flow=flow)
    [[finance_rate]] = kd.execute_bill_query(
        "SAL_OUTSTOCK", ["FExchangeRate"], filter_string=f"FBillNo = '{doc.kingdee_bill_no}'"
    )
    finance_rate = Decimal(str(finance_rate))
    sales = FxDifference.objects.filter(kind=FxDocumentKind.SALE).order_by("line_no")
    nets = [Decimal(e["F_PAEZ_NetAmount"]) for e in doc.target_payload["FEntity"]]
    assert [s.amount for s in sales] == nets
    for line, net in zip(sales, nets, strict=True):
        assert line.document_id == doc.pk and line.platform_order_no == order["so_id"]
        assert line.finance_rate == finance_rate
        assert line.finance_cny == cents(net * finance_rate)
        assert line.business_cny == cents(net * BUSINESS)
        assert line.difference == line.business_cny - line.finance_cny
        assert line.gain_loss == line.difference  # a sale: receivable worth more = gain
    buys = FxDifference.objects.filter(kind=FxDocumentKind.PURCHASE).order_by("line_no")
    assert [(b.amount, b.finance_cny, b.business_cny, b.gain_loss) for b in buys] == [
        (Decimal("1.00"), Decimal("7.13"), Decimal("7.18"), Decimal("-0.05")),
        (Decimal("37.05"), Decimal("263.98"), Decimal("266.02"), Decimal("-2.04")),
    ]

    [voucher] = fx_vouchers_prepare(integration=demo_integration, through=today)
    assert voucher.key == f"FX-100-USD-{today:%Y%m%d}-1"
    assert set(voucher.lines.values_list("pk", flat=True)) == set(
        FxDifference.objects.values_list("pk", flat=True)
    )
    fx_vouchers_post(integration=demo_integration)
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.POSTED and voucher.kingdee_number

    viewed = kd.view("GL_VOUCHER", number=voucher.kingdee_number)
    assert viewed["DocumentStatus"] == "C"
    entries = [{k.lower(): v for k, v in e.items()} for e in viewed["VoucherEntry"]]
    debit = sum(Decimal(str(e["debit"])) for e in entries)
    credit = sum(Decimal(str(e["credit"])) for e in entries)
    assert debit == credit
    sales_gain = sum(s.gain_loss for s in sales)
    purchase_gain = sum(b.gain_loss for b in buys)

    def net_on(account: str) -> Decimal:  # credit − debit on one account
        return sum(
            Decimal(str(e["credit"])) - Decimal(str(e["debit"]))
            for e in entries
            if e["accountid"]["Number"] == account
        )

    assert net_on("6603.03") == sales_gain + purchase_gain  # a gain is a credit to FX
    assert net_on("1122") == -sales_gain
    assert net_on("2202") == -purchase_gain
    assert voucher.total_gain_loss == sales_gain + purchase_gain

    # Exactly once: nothing more to prepare or post; a lost answer is resolved by key.
    assert fx_vouchers_prepare(integration=demo_integration, through=today) == []
    FxVoucher.objects.filter(pk=voucher.pk).update(status=VoucherStatus.SENDING, kingdee_number="")
    fx_vouchers_post(integration=demo_integration)
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.POSTED and voucher.kingdee_number == viewed["BillNo"]
    found = kd.execute_bill_query(
        "GL_VOUCHER", ["FBillNo"], filter_string=f"{KEY_FIELD} = '{voucher.key}'"
    )
    assert len(found) == 1


def test_f6_1_per_document_vouchers_and_a_missing_account_opens_a_ticket(
    demo_integration, kd, today, business_rate
):
    """F6.1: GIVEN vouchers configured per document and two USD purchases WHEN posted THEN
    each bill gets its own voucher; GIVEN no FX account mapped THEN the voucher fails with a
    finance ticket naming the mapping to add, and nothing reaches Kingdee."""
    from mappings.models import AccountMapping
    from monitoring.models import ExceptionTicket

    FinanceSettings.objects.create(integration=demo_integration, voucher_mode=VoucherMode.DOCUMENT)
    purchase(kd, "CGRK-FX-2", today, "7.1000", [("SKU-PB-1002", 2, "10.00")])
    purchase(kd, "CGRK-FX-3", today, "7.2000", [("SKU-PB-1002", 1, "10.00")])
    assert fx_differences_collect(integration=demo_integration, start=today, end=today).created == 2
    vouchers = fx_vouchers_prepare(integration=demo_integration, through=today)
    assert sorted(v.key for v in vouchers) == [
        f"FX-100-USD-{today:%Y%m%d}-CGRK-FX-2-1",
        f"FX-100-USD-{today:%Y%m%d}-CGRK-FX-3-1",
    ]
    fx_vouchers_post(integration=demo_integration)
    assert set(FxVoucher.objects.values_list("status", flat=True)) == {VoucherStatus.POSTED}
    # 20.00 × (7.18 − 7.10) = 1.60 more payable: a loss; 10.00 × (7.18 − 7.20) = −0.20: a gain.
    assert sorted(v.total_gain_loss for v in FxVoucher.objects.all()) == [
        Decimal("-1.60"),
        Decimal("0.20"),
    ]

    AccountMapping.objects.filter(integration=demo_integration, purpose="fx_gain_loss").delete()
    purchase(kd, "CGRK-FX-4", today, "7.0000", [("SKU-PB-1002", 1, "10.00")])
    fx_differences_collect(integration=demo_integration, start=today, end=today)
    [failed] = fx_vouchers_prepare(integration=demo_integration, through=today)
    assert failed.status == VoucherStatus.FAILED and "account" in failed.error.lower()
    ticket = ExceptionTicket.objects.get(trace_key=f"fxvoucher:{failed.key}")
    assert ticket.role == "finance" and ticket.status == "open"
    fx_vouchers_post(integration=demo_integration)
    assert not kd.execute_bill_query(
        "GL_VOUCHER", ["FBillNo"], filter_string=f"{KEY_FIELD} = '{failed.key}'"
    )


def test_issue19_p4_unaudited_vouchers_with_partner_dimension_or_report_only(
    demo_integration, storefront, kd, today, business_rate, celery_worker, wait_until, client
):
    """Issue 19 point 4: GIVEN the default treatment (post) with the receivable account
    requiring the customer dimension (FFLEX6) and the payable the supplier one (FFLEX4) WHEN
    the day is posted THEN the voucher is saved in Kingdee but not audited, and each
    counterpart line names its customer / supplier in FDetailID; GIVEN 'report only' WHEN the
    F6 job runs THEN no voucher is made and the export lists the differences per currency,
    account and partner, adding up to the stored lines, for Kingdee's period-end revaluation."""
    from django.contrib.auth import get_user_model

    from finance.choices import FxTreatment
    from finance.fx_differences import fx_run

    settings = FinanceSettings.objects.create(
        integration=demo_integration, receivable_dimension="FFLEX6", payable_dimension="fflex4"
    )
    storefront.place_and_ship(
        storefront.order(
            so_id="113-0000009-0000009", shop_id=10001, currency="USD",
            lines=[("SKU-PB-1001", 1, "29.99")],
        )
    )  # fmt: skip
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 1, 60)
    purchase(kd, "CGRK-FX-9", today, "7.1000", [("SKU-PB-1002", 2, "10.00")])
    assert fx_differences_collect(integration=demo_integration, start=today, end=today).created == 2
    assert set(FxDifference.objects.values_list("kind", "partner_number")) == {
        (FxDocumentKind.SALE, "10001"),
        (FxDocumentKind.PURCHASE, "SUP001"),
    }

    [voucher] = fx_vouchers_prepare(integration=demo_integration, through=today)
    fx_vouchers_post(integration=demo_integration)
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.POSTED, voucher.error
    viewed = kd.view("GL_VOUCHER", number=voucher.kingdee_number)
    assert viewed["DocumentStatus"] in ("A", "Z")  # saved, not submitted nor audited
    dims = {e["FACCOUNTID"]["FNumber"]: e.get("FDetailID") for e in voucher.payload["FEntity"]}
    assert dims == {
        "1122": {"FDETAILID__FFLEX6": {"FNumber": "10001"}},
        "2202": {"FDETAILID__FFLEX4": {"FNumber": "SUP001"}},
        "6603.03": None,
    }

    # Report only: collected, never posted; the export adds up to the lines.
    settings.fx_treatment = FxTreatment.REPORT
    settings.save()
    purchase(kd, "CGRK-FX-10", today, "7.2000", [("SKU-PB-1002", 1, "10.00")])
    outcome = fx_run(integration=demo_integration, days=1, through=today)
    assert outcome["lines"] == 1 and outcome["report_only"] is True
    assert FxVoucher.objects.count() == 1
    assert FxDifference.objects.filter(voucher__isnull=True).count() == 1

    client.force_login(get_user_model().objects.create_superuser("cfo", "cfo@example.com", "x"))
    response = client.get(
        "/finance/fx-differences/export/",
        {"integration": demo_integration.pk, "start": today, "end": today},
    )
    assert response.status_code == 200
    rows = [line.split(",") for line in response.content.decode("utf-8-sig").splitlines()]
    body = {(r[1], r[2]): r for r in rows[1:]}
    lines = FxDifference.objects.all()
    total = rows[-1]  # the currency's total row closes the list
    assert total[0] == "USD" and total[2] == ""
    assert Decimal(total[7]) == sum(x.gain_loss for x in lines)
    assert Decimal(body[("2202", "SUP001")][7]) == sum(
        x.gain_loss for x in lines if x.kind == FxDocumentKind.PURCHASE
    )
    assert body[("2202", "SUP001")][3] == "2" and body[("1122", "10001")][3] == "1"
