"""Preflight of the FX policy (issue 19 point 3): every currency the integration books in
has a rate source, official or declared; a currency without an official fixing and without a
declaration would stop its documents, so the preflight says so before go-live."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.preflight import Check, provider
from core.messages import gettext as _

from .choices import OFFICIAL_FIXING_CURRENCIES, CodeKind

SALES_FLOWS = ("sales_outbound", "sales_return")


def _currencies(integration) -> set[str]:
    from .models import CodeMapping, ShopCustomerMapping

    shops = ShopCustomerMapping.objects.filter(integration=integration).values_list(
        "settle_currency", flat=True
    )
    codes = CodeMapping.objects.filter(integration=integration, kind=CodeKind.CURRENCY).values_list(
        "jushuitan_code", flat=True
    )
    return {str(c).strip().upper() for c in [*shops, *codes] if c} - {"CNY"}


@provider("kingdee")
def fx_source_checks(integration) -> Iterator[Check]:
    from .models import FxCurrencySource

    declared = set(
        FxCurrencySource.objects.filter(policy__integration=integration).values_list(
            "currency", flat=True
        )
    )
    for currency in sorted(_currencies(integration)):
        ok = currency in OFFICIAL_FIXING_CURRENCIES or currency in declared
        yield Check(
            system="kingdee",
            key=f"fx.source.{currency}",
            title=_("Exchange-rate source of %(currency)s") % {"currency": currency},
            ok=ok,
            detail=""
            if ok
            else _("CFETS fixes no central parity for %(currency)s and no source is declared.")
            % {"currency": currency},
            fix=""
            if ok
            else _(
                "Declare its source under Mappings › FX policies (a reference source or rates "
                "entered by finance), with the basis agreed with the accountant."
            ),
            flows=SALES_FLOWS,
        )
