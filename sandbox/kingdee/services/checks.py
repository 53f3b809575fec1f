"""The checks a Save makes on a bill (docs/protocols/kingdee.md §2.2): references, required
fields and rows, a voucher's balance; and what Save derives (amounts, the stored columns).
"""

from decimal import Decimal

from .. import amounts, forms
from .common import _BaseDataCache, _decimal, _label, _parse_date, _plain, _ref
from .outcome import Message


def _check_reference(spec, key, number, options, cache, prefix, dindex) -> Message | None:
    """None when the reference is usable; otherwise the message the real server gives."""
    if key.endswith("orgid"):
        if number in forms.ORGS:
            return None
        target_ok = False
        target_name = "组织机构"
    else:
        target = forms.REFERENCES[key]
        target_ok = cache.usable(target, number)
        target_name = forms.get(target).name
    if target_ok:
        return None
    if options.verify_base_data:
        return Message(
            f"{prefix}字段“{_label(spec, key)}”的值“{number}”对应的{target_name}基础资料"
            f"不存在、未审核或已禁用。",
            forms.canonical(key),
            dindex,
        )
    return Message("", forms.canonical(key), dindex)  # the field silently stays empty


def _derive_amounts(spec, header: dict, rows: list[dict], cache: _BaseDataCache) -> None:
    """The amounts Kingdee derives on Save (sandbox/kingdee/amounts.py); a row naming a tax
    combination takes its rate from it, as choosing one in the client does (§4.20)."""
    for row in rows:
        number = _ref(row.get("ftaxcombination"))
        found = cache.get(forms.REFERENCES["ftaxcombination"], number) if number else None
        if found is not None and found.fields.get("ftaxrate") is not None:
            row["fentrytaxrate"] = str(found.fields["ftaxrate"])
    amounts.derive(spec.form_id, header, rows)


def _bill_values(spec, header: dict, bill_no: str) -> dict:
    """The stored columns of a bill whose header passed the checks (header gets its number
    and default bill type)."""
    header["fbillno"] = bill_no
    if not header.get("fbilltypeid") and spec.bill_type:
        header["fbilltypeid"] = {"fnumber": spec.bill_type}
    org = _ref(header.get(spec.org_key)) or _ref(header.get("fstockorgid"))
    return {
        "bill_no": bill_no,
        "bill_date": _parse_date(header.get("fdate")),
        "org_number": org,
        "fields": header,
    }


def _check_bill(spec, header: dict, rows: list[dict], options, cache, dindex) -> list[Message]:
    """Every message the server gives for a bill's references, required fields and rows
    (unusable references without IsVerifyBaseDataField are emptied, as the server does)."""
    problems: list[Message] = []
    # Header references and required fields.
    for key in [k for k in header if k in forms.REFERENCES or k.endswith("orgid")]:
        number = _ref(header[key])
        if number:
            bad = _check_reference(spec, key, number, options, cache, "", dindex)
            if bad is not None:
                if bad.message:
                    problems.append(bad)
                header[key] = {}
    for key, label in spec.required_header:
        if key == "fdate":
            if _parse_date(header.get("fdate")) is None:
                if header.get("fdate"):
                    problems.append(
                        Message(
                            f"字段“{label}”的值“{header.get('fdate')}”不是有效的日期格式。",
                            "FDate",
                            dindex,
                        )
                    )
                else:
                    problems.append(Message(f"字段“{label}”是必填项", "FDate", dindex))
        elif not _ref(header.get(key)) and not any(
            p.field_name == forms.canonical(key) for p in problems
        ):
            problems.append(Message(f"字段“{label}”是必填项", forms.canonical(key), dindex))
    # Entry rows.
    if spec.entry_key and not rows:
        problems.append(
            Message(
                f"单据体“{forms.canonical(spec.entry_key)}”至少需要录入一行分录。",
                forms.canonical(spec.entry_key),
                dindex,
            )
        )
    for seq, row in enumerate(rows, start=1):
        prefix = f"单据体实体第【{seq}】行分录，"
        for key in [k for k in row if k in forms.REFERENCES]:
            number = _ref(row[key])
            if number:
                bad = _check_reference(spec, key, number, options, cache, prefix, dindex)
                if bad is not None:
                    if bad.message:
                        problems.append(bad)
                    row[key] = {}
        for key, label in spec.required_entry:
            value = row.get(key)
            if key == spec.qty_key:
                qty = _decimal(value)
                if value in (None, ""):
                    problems.append(
                        Message(
                            f"单据体实体【明细信息】第【{seq}】行分录，【{label}】字段必录",
                            forms.canonical(key),
                            dindex,
                        )
                    )
                elif qty is None:
                    problems.append(
                        Message(
                            f"{prefix}【{label}】的值“{value}”不是有效的数值。",
                            forms.canonical(key),
                            dindex,
                        )
                    )
                elif qty < 0 or (
                    qty == 0 and spec.stock_effect in (forms.IN, forms.OUT, forms.TRANSFER)
                ):
                    problems.append(
                        Message(f"{prefix}【{label}】必须大于0。", forms.canonical(key), dindex)
                    )
            elif not _ref(value):
                if any(
                    p.field_name == forms.canonical(key) and prefix in p.message for p in problems
                ):
                    continue
                problems.append(
                    Message(
                        f"单据体实体【明细信息】第【{seq}】行分录，【{label}】字段必录",
                        forms.canonical(key),
                        dindex,
                    )
                )
    if spec.form_id == "GL_VOUCHER" and rows:
        problems.extend(_voucher_balance(rows, dindex))
    return problems


def _voucher_balance(rows: list[dict], dindex: int) -> list[Message]:
    """GL_VOUCHER: debits must equal credits (docs/protocols/kingdee.md §4.15)."""
    debit = sum((_decimal(r.get("fdebit")) or Decimal("0") for r in rows), Decimal("0"))
    credit = sum((_decimal(r.get("fcredit")) or Decimal("0") for r in rows), Decimal("0"))
    if debit == credit:
        return []
    return [
        Message(
            f"凭证借贷不平衡：借方合计{_plain(debit)}，贷方合计{_plain(credit)}。",
            "FDEBIT",
            dindex,
        )
    ]
