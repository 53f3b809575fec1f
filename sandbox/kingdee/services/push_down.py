"""Push (下推) of the simulated K3Cloud (docs/protocols/kingdee.md §2.8): an audited source bill
converted by a rule the tenant knows into a new target bill.
"""

from decimal import Decimal

from django.db import transaction

from .. import forms
from ..models import DocumentStatus, KdBill, KdBillEntry
from .common import SHANGHAI, _BaseDataCache, _decimal, _plain, _ref, _truthy
from .outcome import MSG_NOT_FOUND, MSG_PARAMETER, Message, ModelRejected, Outcome
from .save import SaveOptions, _save_one

# Conversion rules the simulated tenant knows: rule id -> (source form, target form). The ids
# are [U] (docs/protocols/kingdee.md §2.8): a flow setting names the tenant's own.
PUSH_RULES = {
    "AR_OutStockToReceivableMap": ("SAL_OUTSTOCK", "AR_receivable"),
    "AR_ReturnToReceivableMap": ("SAL_RETURNSTOCK", "AR_receivable"),
}
_SOURCE_TABLES = {
    "SAL_OUTSTOCK": "T_SAL_OUTSTOCKENTRY",
    "SAL_RETURNSTOCK": "T_SAL_RETURNSTOCKENTRY",
}


def push(spec: forms.FormSpec, data: dict) -> Outcome:
    """Push (下推) audited source bills named by Ids or Numbers into new target bills, linked
    row by row (FSourceBillNo, FSOURCETYPE and the link entity); a source already pushed in
    full is refused, as Kingdee refuses rows whose linked quantity is used up."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    outcome = Outcome()
    rule, problem = _push_rule(spec, lowered)
    if problem:
        outcome.errors.append(Message(problem, None, 0, MSG_PARAMETER))
        return outcome
    target = forms.get(PUSH_RULES[rule][1])
    sources = _push_sources(spec, lowered)
    if not sources:
        outcome.errors.append(Message(f"{spec.name}不存在或已被删除。", None, 0, MSG_NOT_FOUND))
        return outcome
    cache = _BaseDataCache()
    for dindex, bill in enumerate(sources):
        try:
            with transaction.atomic():
                _check_pushable(spec, target, bill, dindex)
                model = _pushed_model(spec, bill, rule)
                saved = _save_one(target, model, SaveOptions.from_data({}), cache, dindex)
        except ModelRejected as rejected:
            outcome.errors.extend(rejected.messages)
            continue
        outcome.successes.append({"Id": saved.pk, "Number": saved.bill_no, "DIndex": dindex})
    return outcome


def _push_rule(spec: forms.FormSpec, data: dict) -> tuple[str, str]:
    rule = str(data.get("ruleid") or "").strip()
    target = str(data.get("targetformid") or "").strip()
    if rule:
        if rule not in PUSH_RULES or PUSH_RULES[rule][0].lower() != spec.form_id.lower():
            return "", f"转换规则“{rule}”不存在，或不适用于{spec.name}。"
        return rule, ""
    if not _truthy(data.get("isenabledefaultrule"), False) or not target:
        return "", "请指定转换规则（RuleId），或启用默认规则（IsEnableDefaultRule）并指定目标单据。"
    for rule_id, (source, target_form) in PUSH_RULES.items():
        if source == spec.form_id and target_form.lower() == target.lower():
            return rule_id, ""
    return "", f"{spec.name}没有到“{target}”的默认转换规则。"


def _push_sources(spec: forms.FormSpec, data: dict) -> list[KdBill]:
    rows = KdBill.objects.filter(form_id=spec.form_id)
    ids = data.get("ids")
    if ids not in (None, "", []):
        raw = ids if isinstance(ids, list) else str(ids).split(",")
        rows = rows.filter(pk__in=[int(x) for x in raw if str(x).strip().isdigit()])
    else:
        numbers = data.get("numbers") or []
        if isinstance(numbers, str):
            numbers = numbers.split(",")
        rows = rows.filter(bill_no__in=[str(n).strip() for n in numbers])
    return list(rows.order_by("pk"))


def _check_pushable(spec, target, bill: KdBill, dindex: int) -> None:
    if bill.document_status != DocumentStatus.AUDITED:
        raise ModelRejected(
            [Message(f"{spec.name}“{bill.bill_no}”未审核，不能下推。", None, dindex)]
        )
    linked = KdBillEntry.objects.filter(
        bill__form_id=target.form_id,
        fields__fsourcetype=spec.form_id,
        fields__fsourcebillno=bill.bill_no,
    ).exists()
    if linked:
        raise ModelRejected(
            [
                Message(
                    f"{spec.name}“{bill.bill_no}”已全部下推生成{target.name}，没有可下推的数量。",
                    None,
                    dindex,
                )
            ]
        )


def _pushed_model(spec, bill: KdBill, rule: str) -> dict:
    """The receivable a source bill pushes: its customer, currency, org and rows; a return
    gives a red (negative) receivable."""
    head = bill.fields
    sign = -1 if spec.form_id == "SAL_RETURNSTOCK" else 1
    org = _ref(head.get("fsettleorgid")) or _ref(head.get("fsaleorgid")) or bill.org_number
    rows = []
    for entry in bill.entries.order_by("seq"):
        row = entry.fields
        discount = _decimal(row.get("fdiscount")) or Decimal(0)
        rows.append(
            {
                "FMATERIALID": {"FNumber": entry.material_number},
                "FPriceQty": _plain(sign * entry.qty),
                "FTaxPrice": row.get("ftaxprice"),
                "FEntryTaxRate": row.get("fentrytaxrate"),
                "FTaxCombination": {"FNumber": _ref(row.get("ftaxcombination"))},
                "FDISCOUNTAMOUNTFOR": _plain(sign * discount),
                "FIsFree": row.get("fisfree", False),
                "FSOURCETYPE": spec.form_id,
                "FSourceBillNo": bill.bill_no,
                "FSRCROWID": entry.pk,
                "FEntityDetail_Link": [
                    {
                        "FEntityDetail_Link_FRuleId": rule,
                        "FEntityDetail_Link_FSTableName": _SOURCE_TABLES[spec.form_id],
                        "FEntityDetail_Link_FSBillId": bill.pk,
                        "FEntityDetail_Link_FSId": entry.pk,
                    }
                ],
            }
        )
    return {
        "FBillTypeID": {"FNumber": "YSD01_SYS"},
        "FDate": bill.bill_date.astimezone(SHANGHAI).date().isoformat(),
        "FCUSTOMERID": {"FNumber": _ref(head.get("fcustomerid") or head.get("fretcustid"))},
        "FCURRENCYID": {"FNumber": _ref(head.get("fsettlecurrid")) or "PRE001"},
        "FSETTLEORGID": {"FNumber": org},
        "FSALEORGID": {"FNumber": _ref(head.get("fsaleorgid")) or org},
        "FPAYORGID": {"FNumber": org},
        "FExchangeRate": head.get("fexchangerate") or "1",
        "FAR_Remark": f"{spec.name}{bill.bill_no}下推",
        "FEntityDetail": rows,
    }
