"""F6.1 exchange differences (汇兑损益): per line of every foreign-currency sale, sales return
and purchase, the CNY Kingdee booked at the finance rate (the bill's FExchangeRate, read from
Kingdee) against the CNY at the business rate shown in Jushuitan; the differences are posted
to the FX gain/loss account of the account mapping as Kingdee GL vouchers, each voucher line
traceable to its FxDifference rows and those to their bills.

Amounts: each side is `amount × rate` rounded once to the cent (ROUND_HALF_UP), the difference
is business − finance. Effect on profit (`gain_loss`): a sale's receivable is worth the
difference more (+); a return or a purchase's payable is the opposite (−).

Voucher per group (one org, currency and day, or one document): for each counterpart account
(receivable for sales and returns, payable for purchases) with net gain G > 0 → debit the
counterpart, credit FX gain/loss; G < 0 → the reverse. Debits always equal credits. A voucher
carries its deterministic key in a custom header field; before a voucher whose answer was lost
is sent again it is looked up by that key, so it is posted exactly once.

Treatment (issue 19 point 4, FinanceSettings.fx_treatment): `post` (the brief) builds and
posts the vouchers, saved only unless `audit_vouchers`; when the receivable / payable account
requires a customer / supplier dimension, its lines are split per partner and carry FDetailID.
`report` posts nothing: the differences are listed (fx_differences_report) for Kingdee's own
period-end revaluation. docs/finance/fx-differences.md gives the accounting basis of each.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from connectors.errors import AuthError, BusinessError, TransientError, UnknownOutcome
from connectors.models import Integration
from core.messages import gettext as _
from flows.choices import DocumentState, FlowCode
from flows.models import SyncDocument
from mappings.choices import AccountPurpose, CodeKind, RateType
from mappings.errors import MappingMissing, RateUnavailable
from mappings.models import CodeMapping
from mappings.rates import RateBook, to_cny
from mappings.selectors import account_for

from .choices import FxDocumentKind, FxTreatment, VoucherMode, VoucherStatus
from .models import FinanceSettings, FxDifference, FxVoucher

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
CNY = "CNY"
KEY_FIELD = "F_PAEZ_PortalKey"
# Sign of the profit effect per kind (see the module docstring).
SIGN = {FxDocumentKind.SALE: 1, FxDocumentKind.SALE_RETURN: -1, FxDocumentKind.PURCHASE: -1}
SALES_FLOWS = {
    FlowCode.SALES_OUTBOUND: (FxDocumentKind.SALE, "SAL_OUTSTOCK", "F_PAEZ_NetAmount"),
    FlowCode.SALES_RETURN: (FxDocumentKind.SALE_RETURN, "SAL_RETURNSTOCK", "F_PAEZ_Amount"),
}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class CollectResult:
    created: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Line:
    kind: str
    form: str
    bill_no: str
    line_no: int
    currency: str
    business_date: date
    amount: Decimal
    material: str = ""
    platform_order_no: str = ""
    partner: str = ""
    document: SyncDocument | None = None
    source: dict = field(default_factory=dict)


def _sales_lines(integration: Integration, start: date, end: date) -> list[_Line]:
    """Lines of synced foreign-currency sales outbounds and returns dated in [start, end]."""
    lines: list[_Line] = []
    earliest = timezone.make_aware(datetime.combine(start - timedelta(days=1), time.min))
    docs = SyncDocument.objects.filter(
        integration=integration,
        flow__code__in=list(SALES_FLOWS),
        state=DocumentState.SYNCED,
        synced_at__gte=earliest,  # a bill is synced on or after its business date
    ).select_related("flow")
    for doc in docs.iterator():
        payload = doc.target_payload or {}
        currency = str(payload.get("F_PAEZ_Currency") or CNY).upper()
        try:
            on_date = date.fromisoformat(str(payload.get("FDate"))[:10])
        except ValueError:
            continue
        if currency == CNY or not (start <= on_date <= end) or not doc.kingdee_bill_no:
            continue
        kind, form, amount_field = SALES_FLOWS[doc.flow.code]
        customer = payload.get("FCustomerID") or payload.get("FRetcustId") or {}
        for n, entry in enumerate(payload.get("FEntity") or [], start=1):
            material = entry.get("FMaterialID") or entry.get("FMaterialId") or {}
            lines.append(
                _Line(
                    kind=kind,
                    form=form,
                    bill_no=doc.kingdee_bill_no,
                    line_no=n,
                    currency=currency,
                    business_date=on_date,
                    amount=cents(Decimal(str(entry.get(amount_field) or 0))),
                    material=str(material.get("FNumber", "")),
                    platform_order_no=doc.platform_order_no,
                    partner=str(customer.get("FNumber", "")),
                    document=doc,
                    source=doc.source_payload or {},
                )
            )
    return lines


def _purchase_lines(client, integration: Integration, start: date, end: date) -> list[_Line]:
    """Lines of audited foreign-currency purchase inbounds (STK_InStock) read from Kingdee."""
    iso = {
        number: code
        for code, number in CodeMapping.objects.filter(
            integration=integration, kind=CodeKind.CURRENCY
        ).values_list("jushuitan_code", "kingdee_code")
    }
    keys = [
        "FBillNo",
        "FDate",
        "FSettleCurrId.FNumber",
        "FMaterialId.FNumber",
        "FSupplierId.FNumber",
        "FRealQty",
        "FTaxPrice",
        "FInStockEntry_FEntryID",
    ]
    filter_string = (
        f"FDocumentStatus = 'C' and FDate >= '{start.isoformat()}' "
        f"and FDate < '{(end + timedelta(days=1)).isoformat()}'"
    )
    seq: dict[str, int] = defaultdict(int)
    lines = []
    for row in client.iter_bill_query(
        "STK_InStock", keys, filter_string=filter_string, order_string="FID ASC"
    ):
        currency = iso.get(str(row["FSettleCurrId.FNumber"] or ""), "")
        bill_no = str(row["FBillNo"])
        seq[bill_no] += 1
        if not currency or currency == CNY:
            continue
        amount = Decimal(str(row["FRealQty"] or 0)) * Decimal(str(row["FTaxPrice"] or 0))
        lines.append(
            _Line(
                kind=FxDocumentKind.PURCHASE,
                form="STK_InStock",
                bill_no=bill_no,
                line_no=seq[bill_no],
                currency=currency,
                business_date=date.fromisoformat(str(row["FDate"])[:10]),
                amount=cents(amount),
                material=str(row["FMaterialId.FNumber"] or ""),
                partner=str(row.get("FSupplierId.FNumber") or ""),
            )
        )
    return lines


def _finance_rates(client, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
    """FExchangeRate of each (form, bill no.) as booked in Kingdee."""
    from connectors.kingdee.client import quote

    rates: dict[tuple[str, str], Decimal] = {}
    by_form: dict[str, list[str]] = defaultdict(list)
    for form, number in pairs:
        by_form[form].append(number)
    for form, numbers in by_form.items():
        for index in range(0, len(numbers), 200):
            part = sorted(numbers)[index : index + 200]
            rows = client.execute_bill_query(
                form,
                ["FBillNo", "FExchangeRate"],
                filter_string=f"FBillNo in ({','.join(quote(n) for n in part)})",
            )
            for number, rate in rows:
                if rate not in (None, ""):
                    rates[(form, str(number))] = Decimal(str(rate))
    return rates


def fx_differences_collect(
    *, integration: Integration, start: date, end: date, client=None
) -> CollectResult:
    """Compute and store the FX difference of every foreign-currency line dated in
    [start, end] that has none yet (idempotent). Lines whose rate is missing are skipped with
    the reason and picked up by a later run."""
    from connectors.kingdee.client import client_for

    client = client or client_for(integration.kingdee)
    settings = FinanceSettings.for_integration(integration)
    result = CollectResult()
    lines = _sales_lines(integration, start, end) + _purchase_lines(client, integration, start, end)
    existing = set(
        FxDifference.objects.filter(
            integration=integration, kingdee_bill_no__in={ln.bill_no for ln in lines}
        ).values_list("kingdee_form", "kingdee_bill_no", "line_no")
    )
    lines = [ln for ln in lines if (ln.form, ln.bill_no, ln.line_no) not in existing]
    if not lines:
        return result
    finance = _finance_rates(client, {(ln.form, ln.bill_no) for ln in lines})
    book = RateBook()
    rows = []
    for line in lines:
        finance_rate = finance.get((line.form, line.bill_no))
        if finance_rate is None:
            result.skipped.append(
                _("%(bill)s: Kingdee carries no exchange rate") % {"bill": line.bill_no}
            )
            continue
        business_rate, rate_date, business_cny = _business(settings, book, line)
        if business_rate is None:
            result.skipped.append(f"{line.bill_no}: {rate_date}")
            continue
        finance_cny = cents(line.amount * finance_rate)
        difference = business_cny - finance_cny
        rows.append(
            FxDifference(
                integration=integration,
                kind=line.kind,
                document=line.document,
                kingdee_form=line.form,
                kingdee_bill_no=line.bill_no,
                line_no=line.line_no,
                platform_order_no=line.platform_order_no[:100],
                org_number=integration.kingdee.org_number,
                material_number=line.material,
                partner_number=line.partner[:100],
                business_date=line.business_date,
                currency=line.currency,
                amount=line.amount,
                finance_rate=finance_rate,
                business_rate=business_rate,
                business_rate_date=rate_date,
                finance_cny=finance_cny,
                business_cny=business_cny,
                difference=difference,
                gain_loss=difference * SIGN[line.kind],
            )
        )
    FxDifference.objects.bulk_create(rows, ignore_conflicts=True)
    result.created = len(rows)
    return result


def _business(settings: FinanceSettings, book: RateBook, line: _Line):
    """(CNY per unit, rate date, CNY amount) at the business rate, or (None, reason, None).
    A rate carried on the Jushuitan document wins when a field is configured [U: no such
    field is documented]; otherwise the business rate entered for the date."""
    field_name = settings.business_rate_field
    if field_name and line.source.get(field_name) not in (None, ""):
        rate = Decimal(str(line.source[field_name]))
        return rate, line.business_date, cents(line.amount * rate)
    try:
        quote = book.rate_for(
            currency=line.currency, on_date=line.business_date, rate_type=RateType.BUSINESS
        )
    except RateUnavailable as exc:
        return None, exc.message, None
    return quote.cny_per_unit, quote.rate_date, to_cny(line.amount, quote)


# --- vouchers ---------------------------------------------------------------------------------


def _voucher_groups(integration: Integration, mode: str, through: date):
    pending = FxDifference.objects.filter(
        integration=integration, voucher__isnull=True, business_date__lte=through
    ).order_by("business_date", "kingdee_bill_no", "line_no")
    groups: dict[tuple, list[FxDifference]] = defaultdict(list)
    for line in pending:
        if mode == VoucherMode.DOCUMENT:
            key = (line.org_number, line.currency, line.business_date, line.kingdee_bill_no)
        else:
            key = (line.org_number, line.currency, line.business_date, "")
        groups[key].append(line)
    return groups


def _voucher_key(org: str, currency: str, on_date: date, bill_no: str) -> str:
    stem = f"FX-{org}-{currency}-{on_date:%Y%m%d}" + (f"-{bill_no}" if bill_no else "")
    n = FxVoucher.objects.filter(key__startswith=f"{stem}-").count() + 1
    return f"{stem}-{n}"


def fx_vouchers_prepare(
    *, integration: Integration, through: date | None = None
) -> list[FxVoucher]:
    """Group the unposted differences (up to `through`, default yesterday) into vouchers and
    build their payloads. A day posted earlier gets a further voucher (-2, -3...) for late
    lines; a line is in exactly one voucher."""
    settings = FinanceSettings.for_integration(integration)
    through = through or (timezone.localdate() - timedelta(days=1))
    created: list[FxVoucher] = []
    for (org, currency, on_date, bill_no), lines in _voucher_groups(
        integration, settings.voucher_mode, through
    ).items():
        with transaction.atomic():
            ids = list(
                FxDifference.objects.select_for_update()
                .filter(pk__in=[ln.pk for ln in lines], voucher__isnull=True)
                .values_list("pk", flat=True)
            )
            if not ids:
                continue
            voucher = FxVoucher.objects.create(
                integration=integration,
                key=_voucher_key(org, currency, on_date, bill_no),
                mode=settings.voucher_mode,
                org_number=org,
                currency=currency,
                voucher_date=on_date,
            )
            FxDifference.objects.filter(pk__in=ids).update(voucher=voucher)
            try:
                voucher.payload = voucher_payload(voucher=voucher, settings=settings)
            except MappingMissing as exc:
                voucher.status = VoucherStatus.FAILED
                voucher.error = exc.message
                _ticket(voucher, exc.message, error_class="missing_mapping")
            voucher.total_gain_loss = voucher.lines.aggregate(s=Sum("gain_loss"))["s"] or 0
            if voucher.status != VoucherStatus.FAILED and not voucher.payload.get("FEntity"):
                voucher.status = VoucherStatus.NOTHING
            voucher.save()
            created.append(voucher)
    return created


def voucher_payload(*, voucher: FxVoucher, settings: FinanceSettings) -> dict:
    """The GL_VOUCHER model of a voucher (see the module docstring for the entries)."""
    fx_account = account_for(
        integration=voucher.integration_id,
        org_number=voucher.org_number,
        purpose=AccountPurpose.FX_GAIN_LOSS,
    )
    counterpart = {
        FxDocumentKind.SALE: (settings.receivable_account, settings.receivable_dimension),
        FxDocumentKind.SALE_RETURN: (settings.receivable_account, settings.receivable_dimension),
        FxDocumentKind.PURCHASE: (settings.payable_account, settings.payable_dimension),
    }
    net: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    count: dict[tuple[str, str, str], int] = defaultdict(int)
    for line in voucher.lines.all():
        account, dimension = counterpart[line.kind]
        if dimension and not line.partner_number:
            raise MappingMissing(
                _(
                    "Account %(account)s requires the %(dimension)s dimension but bill %(bill)s "
                    "names no customer or supplier."
                )
                % {"account": account, "dimension": dimension, "bill": line.kingdee_bill_no},
                kind="account",
                key=account,
                integration_id=voucher.integration_id,
            )
        key = (account, dimension, line.partner_number if dimension else "")
        net[key] += line.gain_loss
        count[key] += 1
    explanation = _("FX difference %(currency)s %(date)s") % {
        "currency": voucher.currency,
        "date": voucher.voucher_date.isoformat(),
    }
    entries = []
    for key, gain in sorted(net.items()):
        if gain == 0:
            continue
        account, dimension, partner = key
        amount = abs(gain)
        text = f"{explanation} ({count[key]}) {voucher.key}"[:255]
        counter_side, fx_side = ("FDEBIT", "FCREDIT") if gain > 0 else ("FCREDIT", "FDEBIT")
        for number, side, flex in (
            (account, counter_side, dimension),
            (fx_account, fx_side, ""),
        ):
            entry = {
                "FEXPLANATION": text,
                "FACCOUNTID": {"FNumber": number},
                "FCURRENCYID": {"FNumber": "PRE001"},
                "FEXCHANGERATETYPE": {"FNumber": "HLTX01_SYS"},
                "FEXCHANGERATE": "1",
                "FAMOUNTFOR": str(amount),
                "FDEBIT": str(amount) if side == "FDEBIT" else "0",
                "FCREDIT": str(amount) if side == "FCREDIT" else "0",
            }
            if flex:
                slot = flex.strip().upper()
                entry["FDetailID"] = {f"FDETAILID__{slot}": {"FNumber": partner}}
            entries.append(entry)
    if not entries:
        return {}
    return {
        "FAccountBookID": {"FNumber": settings.account_book},
        "FDate": voucher.voucher_date.isoformat(),
        "FVOUCHERGROUPID": {"FNumber": settings.voucher_group},
        "FYEAR": voucher.voucher_date.year,
        "FPERIOD": voucher.voucher_date.month,
        KEY_FIELD: voucher.key,
        "FEntity": entries,
    }


def fx_vouchers_post(*, integration: Integration, client=None) -> list[FxVoucher]:
    """Post every pending voucher (and resolve those whose answer was lost: looked up by key
    first). Returns the vouchers touched."""
    from connectors.kingdee.client import client_for

    client = client or client_for(integration.kingdee)
    settings = FinanceSettings.for_integration(integration)
    todo = list(
        FxVoucher.objects.filter(
            integration=integration, status__in=(VoucherStatus.PENDING, VoucherStatus.SENDING)
        ).order_by("voucher_date", "key")
    )
    if not todo:
        return []
    uncertain = [v for v in todo if v.status == VoucherStatus.SENDING]
    if uncertain:
        found = client.lookup_bills(
            "GL_VOUCHER", key_field=KEY_FIELD, values=[v.key for v in uncertain]
        )
        for voucher in uncertain:
            ref = found.get(voucher.key)
            if ref is not None:
                _posted(voucher, ref.id, ref.number)
    for voucher in todo:
        if voucher.status == VoucherStatus.POSTED:
            continue
        claimed = FxVoucher.objects.filter(
            pk=voucher.pk, status__in=(VoucherStatus.PENDING, VoucherStatus.SENDING)
        ).update(status=VoucherStatus.SENDING)
        if not claimed:
            continue
        voucher.status = VoucherStatus.SENDING
        try:
            answer = client.batch_save(
                "GL_VOUCHER", [voucher.payload], auto_submit_audit=settings.audit_vouchers
            )
        except UnknownOutcome as exc:
            voucher.error = exc.message  # stays SENDING: looked up by key next time
            voucher.save(update_fields=["error", "updated_at"])
            continue
        except (TransientError, AuthError) as exc:
            FxVoucher.objects.filter(pk=voucher.pk).update(
                status=VoucherStatus.PENDING, error=exc.message
            )
            continue
        except BusinessError as exc:
            _failed(voucher, exc.message)
            continue
        saved, errors = answer.success_for(0), answer.errors_for(0)
        if saved is not None and not errors:
            _posted(voucher, saved.id, saved.number)
        else:
            _failed(voucher, "; ".join(e.message for e in errors) or _("no answer"))
    return todo


def _posted(voucher: FxVoucher, kingdee_id, number: str) -> None:
    from monitoring import services as monitoring

    voucher.status = VoucherStatus.POSTED
    voucher.kingdee_id = str(kingdee_id)
    voucher.kingdee_number = number
    voucher.posted_at = timezone.now()
    voucher.error = ""
    voucher.save()
    monitoring.tickets_close_for(
        trace_keys=[f"fxvoucher:{voucher.key}"], resolution=_("Posted as %(n)s.") % {"n": number}
    )


def _failed(voucher: FxVoucher, message: str) -> None:
    voucher.status = VoucherStatus.FAILED
    voucher.error = message
    voucher.save()
    _ticket(voucher, message, error_class="fx_voucher")


def _ticket(voucher: FxVoucher, message: str, *, error_class: str) -> None:
    from core.roles import Role
    from monitoring import services as monitoring

    monitoring.ticket_open_or_update(
        trace_key=f"fxvoucher:{voucher.key}",
        error_class=error_class,
        message=message,
        subject=voucher.key,
        integration_id=voucher.integration_id,
        system="kingdee",
        role=Role.FINANCE,
        detail={"voucher": voucher.key, "lines": voucher.lines.count()},
    )


def fx_voucher_retry(*, voucher: FxVoucher) -> FxVoucher:
    """Rebuild a failed voucher's payload (after the account or settings were fixed) and put
    it back in the queue; the next post sends it."""
    if voucher.status != VoucherStatus.FAILED:
        return voucher
    settings = FinanceSettings.for_integration(voucher.integration)
    voucher.payload = voucher_payload(voucher=voucher, settings=settings)
    voucher.status = VoucherStatus.PENDING if voucher.payload else VoucherStatus.NOTHING
    voucher.error = ""
    voucher.save()
    return voucher


def fx_run(*, integration: Integration, days: int = 7, through: date | None = None) -> dict:
    """The scheduled job: collect the last `days` days, group up to `through` (yesterday by
    default), post. One failing integration never stops the others (the task loops)."""
    end = through or (timezone.localdate() - timedelta(days=1))
    collected = fx_differences_collect(
        integration=integration, start=end - timedelta(days=days), end=end
    )
    if FinanceSettings.for_integration(integration).fx_treatment == FxTreatment.REPORT:
        return {"lines": collected.created, "skipped": collected.skipped, "report_only": True}
    prepared = fx_vouchers_prepare(integration=integration, through=end)
    posted = fx_vouchers_post(integration=integration)
    return {
        "lines": collected.created,
        "skipped": collected.skipped,
        "vouchers": len(prepared),
        "posted": sum(v.status == VoucherStatus.POSTED for v in posted),
    }


# --- report only (issue 19 point 4) -----------------------------------------------------------


def fx_differences_report(*, integration: Integration, start: date, end: date):
    """(header, rows) of the differences dated in [start, end], per currency, counterpart
    account and customer / supplier: what Kingdee's period-end revaluation (期末调汇) of the
    receivables and payables will produce, for finance to check against it. The last row
    per currency is its total."""
    settings = FinanceSettings.for_integration(integration)
    account = {
        FxDocumentKind.SALE: settings.receivable_account,
        FxDocumentKind.SALE_RETURN: settings.receivable_account,
        FxDocumentKind.PURCHASE: settings.payable_account,
    }
    sums: dict[tuple, list] = {}
    lines = FxDifference.objects.filter(
        integration=integration, business_date__gte=start, business_date__lte=end
    ).order_by("currency", "kingdee_bill_no", "line_no")
    for line in lines:
        sign = -1 if line.kind == FxDocumentKind.SALE_RETURN else 1
        key = (line.currency, account[line.kind], line.partner_number)
        row = sums.setdefault(key, [0, Decimal(0), Decimal(0), Decimal(0), Decimal(0)])
        row[0] += 1
        row[1] += line.amount * sign
        row[2] += line.finance_cny * sign
        row[3] += line.business_cny * sign
        row[4] += line.gain_loss
    header = [
        _("Currency"),
        _("Counterpart account"),
        _("Customer / supplier"),
        _("Lines"),
        _("Amount (currency)"),
        _("CNY at the booked rate"),
        _("CNY at the business rate"),
        _("Effect on profit"),
        _("In a posted voucher"),
    ]
    posted = set(
        lines.filter(voucher__status=VoucherStatus.POSTED).values_list("currency", "partner_number")
    )
    rows = []
    for currency in sorted({k[0] for k in sums}):
        total = [0, Decimal(0), Decimal(0), Decimal(0), Decimal(0)]
        for key in sorted(k for k in sums if k[0] == currency):
            values = sums[key]
            total = [a + b for a, b in zip(total, values, strict=True)]
            rows.append([*key, *values, _("yes") if (currency, key[2]) in posted else _("no")])
        rows.append([currency, _("Total"), "", *total, ""])
    return header, rows
