"""Choices of the mappings app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MappingSource(models.TextChoices):
    """Where a mapping row came from, so the admin tells explicit rows from rule-made ones."""

    EXPLICIT = "explicit", _("Explicit (entered or imported by a person)")
    RULE = "rule", _("By the 1:1 rule (same code on both sides)")
    INITIALISED = "initialised", _("Initialised from systems (matched by name, check it)")


class System(models.TextChoices):
    KINGDEE = "kingdee", _("Kingdee")  # 金蝶云星空
    JUSHUITAN = "jushuitan", _("Jushuitan")  # 聚水潭


class MasterKind(models.TextChoices):
    """Kinds of master data whose codes the portal keeps a snapshot of (KnownCode)."""

    SHOP = "shop", _("Shop")  # 店铺 (Jushuitan)
    CUSTOMER = "customer", _("Customer")  # 客户 (Kingdee)
    WAREHOUSE = "warehouse", _("Warehouse")  # 仓库
    SUPPLIER = "supplier", _("Supplier")  # 供应商
    MATERIAL = "material", _("Material")  # 物料 (Kingdee)
    SKU = "sku", _("SKU")  # 商品 (Jushuitan)
    # The customer's Kingdee code tables (issue 24 point 6), pulled by mappings.code_tables.
    CURRENCY = "currency", _("Currency")  # 币别 (BD_Currency)
    ACCOUNT = "account", _("Account")  # 会计科目 (BD_Account)
    TAX_RATE = "tax_rate", _("Tax rate")  # 税率 (BD_TaxRate)


class MappingKind(models.TextChoices):
    """What a MappingMissing is about (a flow opens the ticket by this kind)."""

    CUSTOMER = "customer", _("shop → customer")
    SHOP = "shop", _("customer → shop")
    WAREHOUSE = "warehouse", _("warehouse → Kingdee warehouse")
    JST_WAREHOUSE = "jst_warehouse", _("Kingdee warehouse → warehouse")
    SUPPLIER = "supplier", _("supplier → Kingdee supplier")
    JST_SUPPLIER = "jst_supplier", _("Kingdee supplier → supplier")
    MATERIAL = "material", _("SKU → material")
    SKU = "sku", _("material → SKU")
    CODE = "code", _("code mapping")
    TAX_TEMPLATE = "tax_template", _("tax template")
    ACCOUNT = "account", _("account")


class CodeKind(models.TextChoices):
    """Reference codes converted by the generic code-mapping table (M5)."""

    CURRENCY = "currency", _("Currency (ISO code → Kingdee currency number)")
    EXPENSE_ITEM = "expense_item", _("Expense item (fee type → Kingdee expense item)")
    UNIT = "unit", _("Unit of measure")
    RETURN_REASON = "return_reason", _("Return reason")
    OTHER = "other", _("Other")


class AccountPurpose(models.TextChoices):
    """What an account is booked for (M7, 财务科目映射)."""

    REVENUE = "revenue", _("Revenue")  # 主营业务收入
    COST = "cost", _("Cost of goods sold")  # 主营业务成本
    FREIGHT = "freight", _("Freight")  # 运费
    PLATFORM_FEE = "platform_fee", _("Platform fees and commission")  # 平台佣金
    TARIFF = "tariff", _("Tariffs and duties")  # 关税
    FX_GAIN_LOSS = "fx_gain_loss", _("Exchange gain / loss")  # 汇兑损益


class RateType(models.TextChoices):
    PBOC_PARITY = "pboc_parity", _("PBOC central parity")  # 人民币汇率中间价
    FINANCE = "finance", _("Finance rate")  # 财务汇率 (Kingdee books at it)
    BUSINESS = "business", _("Business rate")  # 业务汇率 (Jushuitan shows it)


class RateSource(models.TextChoices):
    CFETS = "cfets", _("CFETS central parity")
    ECB = "ecb", _("ECB reference rate (fallback)")
    MANUAL = "manual", _("Entered by a person")
    IMPORT = "import", _("Imported file")


# Sources whose rates are not the official fixing: a quote from them is a fallback.
NON_OFFICIAL_RATE_SOURCES = frozenset({RateSource.ECB})


class ImportJobStatus(models.TextChoices):
    """Where a bulk import (dry run or the import itself) stands; the admin polls it."""

    QUEUED = "queued", _("Waiting for a worker")
    RUNNING = "running", _("Running")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Failed")


# States after which an import job changes no more (the progress page stops polling).
IMPORT_JOB_TERMINAL_STATES = frozenset({ImportJobStatus.DONE, ImportJobStatus.FAILED})


class RateDateRule(models.TextChoices):
    """Which date's rate converts a document (增值税暂行条例实施细则 Art. 15; CAS 19 Art. 11)."""

    SHIP_DATE = "ship_date", _("The business date itself (ship / return date)")  # 当天
    FIRST_OF_MONTH = "first_of_month", _("The first day of the document's month")  # 当月1日
    FIXED_PERIOD = "fixed_period", _("The first day of a fixed period (e.g. a quarter)")


class CurrencyRateSource(models.TextChoices):
    """Where the rate of one currency comes from (a declared choice, never a guess)."""

    OFFICIAL = "official", _("Official PBOC central parity (CFETS)")
    REFERENCE = "reference", _("A declared reference source (e.g. ECB cross rate)")
    MANUAL = "manual", _("Rates entered or imported by finance")


# The currencies CFETS fixes a central parity for (connectors/fx/client.py CFETS_PAIRS).
OFFICIAL_FIXING_CURRENCIES = frozenset(
    {
        "USD", "EUR", "JPY", "HKD", "GBP", "AUD", "NZD", "SGD", "CHF", "CAD",
        "MOP", "MYR", "RUB", "ZAR", "KRW", "AED", "SAR", "HUF", "PLN", "DKK",
        "SEK", "NOK", "TRY", "MXN", "THB",
    }
)  # fmt: skip
