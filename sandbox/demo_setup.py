"""Configure a complete demo Integration against the simulators (used by `make run` and tests).

It is what a new deployment does on its first day (K3), only against the sandboxes: the two
connections, a Jushuitan token, FX sources and rates, G1 initialisation of the mappings, the
exception code mappings, tax templates per destination country and HS code, account mappings,
flows with their schedules, and a robot channel with alert rules. Idempotent.
"""

from __future__ import annotations

from decimal import Decimal

from . import demo_catalogue as demo

DEMO_CODE = "demo"

# Kingdee currency numbers (the standard PRE00x codes) for the demo's currencies (M5).
CURRENCIES = {"USD": "PRE007", "EUR": "PRE003", "GBP": "PRE006", "JPY": "PRE004"}
# Destination countries of the demo shops and a destination duty rate per HS heading (%).
COUNTRIES = ("US", "DE", "GB", "JP")
DUTY = {"US": Decimal("3.40"), "DE": Decimal("2.70"), "GB": Decimal("2.00"), "JP": Decimal("0.00")}
# Charge kinds of an order -> the Kingdee expense items of the receivable's charge lines.
EXPENSE_ITEMS = {
    "freight": "FYXM_FREIGHT",
    "marketplace_tax": "FYXM_MKTTAX",
    "platform_fee": "FYXM_PLATFEE",
    "refund_only": "FYXM_ALLOW",
}
ACCOUNTS = {
    "revenue": "6001",
    "cost": "6401",
    "freight": "6601.01",
    "platform_fee": "6601.02",
    "tariff": "6403",
    "fx_gain_loss": "6603.03",
    "inventory": "1405",
    "count_suspense": "1901",
    "count_loss": "6602.09",
    "input_vat_out": "2221.01.05",
}


def connections_ensure(*, base_url: str):
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.models import KingdeeAuthMode, KingdeeConnection
    from connectors.models import Integration

    from .jushuitan.services import DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_CO_ID
    from .kingdee import conf

    kd_conf = conf.current()
    kingdee, _ = KingdeeConnection.objects.update_or_create(
        name="Kingdee sandbox 金蝶沙箱",
        defaults={
            "server_url": f"{base_url}/sandbox/kingdee/k3cloud/",
            "acct_id": kd_conf.acct_id,
            "username": kd_conf.username,
            "app_id": kd_conf.app_id,
            "app_secret": kd_conf.app_secret,
            "password": kd_conf.password,
            "auth_mode": KingdeeAuthMode.SIGNATURE,
            "lcid": 2052,
            "org_number": demo.ORG_NUMBER,
        },
    )
    jushuitan, _ = JushuitanConnection.objects.update_or_create(
        name="Jushuitan sandbox 聚水潭沙箱",
        defaults={
            "base_url": f"{base_url}/sandbox/jushuitan",
            "app_key": DEMO_APP_KEY,
            "app_secret": DEMO_APP_SECRET,
            "company_id": str(DEMO_CO_ID),
        },
    )
    integration, _ = Integration.objects.update_or_create(
        code=DEMO_CODE,
        defaults={"name": "Demo 跨境主体 (sandbox)", "kingdee": kingdee, "jushuitan": jushuitan},
    )
    return integration


def fx_sources_ensure(*, base_url: str) -> None:
    from connectors.fx.models import FxSource, FxSourceKind

    FxSource.objects.update_or_create(
        name="CFETS central parity",
        defaults={
            "kind": FxSourceKind.CFETS,
            "base_url": f"{base_url}/sandbox/fx/cfets",
            "priority": 10,
            "official": True,
            "enabled": True,
        },
    )
    FxSource.objects.update_or_create(
        name="ECB reference rates (backup)",
        defaults={
            "kind": FxSourceKind.ECB,
            "base_url": f"{base_url}/sandbox/fx/ecb",
            "priority": 20,
            "official": False,
            "enabled": True,
        },
    )


def reference_data_ensure(*, integration) -> None:
    """Code mappings for currencies, tax templates (G3) and account mappings (G5)."""
    from mappings.choices import CodeKind
    from mappings.models import AccountMapping, CodeMapping, TaxTemplate

    for iso, number in CURRENCIES.items():
        CodeMapping.objects.get_or_create(
            integration=integration,
            kind=CodeKind.CURRENCY,
            jushuitan_code=iso,
            defaults={"kingdee_code": number},
        )
    prefixes = sorted({m["hs_code"][:6] for m in demo.MATERIALS if m["hs_code"]})
    for country in COUNTRIES:
        for prefix in prefixes:
            TaxTemplate.objects.get_or_create(
                integration=integration,
                country=country,
                hs_prefix=prefix,
                effective_from="2024-01-01",
                defaults={
                    "name": f"{country} {prefix} export",
                    "kingdee_tax_number": "SL00_CB",
                    "vat_rate": Decimal("0"),
                    "duty_rate": DUTY[country],
                    "refund_rate": Decimal("13"),
                },
            )
    for kind, item in EXPENSE_ITEMS.items():
        CodeMapping.objects.get_or_create(
            integration=integration,
            kind=CodeKind.EXPENSE_ITEM,
            jushuitan_code=kind,
            defaults={"kingdee_code": item},
        )
    for purpose, account in ACCOUNTS.items():
        AccountMapping.objects.get_or_create(
            integration=integration,
            org_number=demo.ORG_NUMBER,
            purpose=purpose,
            shop_id="",
            defaults={"account_number": account},
        )


def business_rates_ensure() -> None:
    """F6.1: the business rates (业务汇率) the demo shop shows, entered as finance would, from
    the first of the month (kept if someone changed them)."""
    from mappings.choices import RateSource, RateType
    from mappings.models import ExchangeRate
    from mappings.rates import today_beijing

    first = today_beijing().replace(day=1)
    for currency, rate in demo.BUSINESS_RATES.items():
        ExchangeRate.objects.get_or_create(
            currency=currency,
            rate_date=first,
            rate_type=RateType.BUSINESS,
            defaults={"rate": rate, "source": RateSource.MANUAL, "note": "demo business rate"},
        )


def flows_ensure(*, integration, enabled: bool = True) -> dict:
    from flows.definitions import definitions
    from flows.models import Flow
    from flows.services import flow_ensure

    flows = {}
    for code in [d.code for d in definitions(include_test_flows=False)]:
        flow = flow_ensure(integration=integration, code=code, enabled=False)
        if not enabled:
            Flow.objects.filter(pk=flow.pk).update(enabled=False)
            flow.enabled = False
        flows[code] = flow
    if enabled:
        flows_enable_after_preflight(flows=flows, integration=integration)
    return flows


def flows_enable_after_preflight(*, flows: dict, integration) -> list[str]:
    """Switch the demo's flows on the way a person would: run the preflight, then enable each
    flow through the gate (flows.services.flow_enable). Against the sandboxes the preflight
    passes; should a check fail, the flow is enabled with a recorded override naming it, so the
    demo still comes up. Returns the codes enabled with an override."""
    import logging

    from connectors.preflight import preflight_run
    from flows.services import PreflightGateClosed, flow_enable

    preflight_run(integration=integration, requested_by="demo setup")
    overridden = []
    for code, flow in flows.items():
        if flow.enabled:
            continue
        try:
            flow_enable(flow=flow, by="demo setup")
        except PreflightGateClosed as closed:
            logging.getLogger(__name__).warning("demo: %s", closed.message)
            flow_enable(
                flow=flow,
                by="demo setup",
                override_reason="demo setup against the simulators: "
                + "; ".join(c.key for c in closed.failures),
            )
            overridden.append(code)
    return overridden


def demo_integration_setup(*, base_url: str, initialise: bool = True, fetch_rates: bool = True):
    """Everything a first day needs, against the simulators at `base_url`. Returns the
    Integration. Not one transaction: the simulators answer over HTTP from other threads or
    processes and must see what was written before they are called."""
    from connectors.jushuitan.services import token_refresh
    from finance.kingdee_sources import kingdee_sources_ensure
    from mappings.rates import fetch_latest_rates
    from mappings.sources import initialise_from_connections

    from .jushuitan.services import seed_demo as seed_jushuitan
    from .kingdee.services import seed_demo as seed_kingdee

    seed_kingdee()
    seed_jushuitan()
    integration = connections_ensure(base_url=base_url)
    token_refresh(connection=integration.jushuitan)
    fx_sources_ensure(base_url=base_url)
    if fetch_rates:
        fetch_latest_rates(days=30)
    if initialise:
        initialise_from_connections(integration=integration)
    reference_data_ensure(integration=integration)
    business_rates_ensure()
    flows_ensure(integration=integration)
    kingdee_sources_ensure(integration=integration)
    return integration
