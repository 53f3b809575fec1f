"""Issue 24 point 6: the customer's code tables pulled from the sandboxes (Kingdee currencies,
accounts, tax rates; Jushuitan shops, warehouses) into the snapshot, which the import dry runs
check codes against (with the allowed values listed), the xlsx templates list, the mapping
forms suggest and the checklist's FX1 reads."""

import io
import time

import pytest
import tablib
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from mappings.models import AccountMapping, CodeMapping, KnownCode, TaxTemplate

pytestmark = pytest.mark.django_db(transaction=True)

EN = {"Accept-Language": "en"}
CODE_TABLE_KINDS = ("currency", "account", "tax_rate")


def _codes(integration, system: str, kind: str) -> dict[str, KnownCode]:
    rows = KnownCode.objects.filter(integration=integration, system=system, kind=kind)
    return {row.code: row for row in rows}


def _user(django_user_model, role: str):
    user = django_user_model.objects.create_user(f"u-{role}", password="pw-2026-codes")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


def test_finance_pulls_the_code_tables_from_the_known_codes_list(
    demo_integration, client, django_user_model
):
    """Issue 24 point 6: GIVEN an integration whose code-table snapshot is empty WHEN finance
    presses 'Pull code tables' on Mappings › known codes THEN Kingdee's audited, enabled
    currencies (with their ISO code; the forbidden SGD left out), accounts and tax rates (with
    their percentage) and Jushuitan's shops and warehouses are in the snapshot, the page says
    how many of each; purchasing sees no button and is refused."""
    KnownCode.objects.filter(integration=demo_integration, kind__in=CODE_TABLE_KINDS).delete()
    KnownCode.objects.filter(integration=demo_integration, system="jushuitan").delete()
    client.force_login(_user(django_user_model, "finance"))
    listing = client.get("/admin/mappings/knowncode/", headers=EN).content.decode()
    assert "Pull code tables from Kingdee and Jushuitan" in listing

    page = client.post(
        "/admin/mappings/knowncode/pull/",
        {"integration": demo_integration.pk},
        headers=EN,
        follow=True,
    ).content.decode()

    assert "code tables pulled" in page and "Kingdee Currency 7" in page, page[-3000:]
    currencies = _codes(demo_integration, "kingdee", "currency")
    assert currencies["PRE007"].extra == {"iso": "USD"} and currencies["PRE007"].name == "美元"
    assert "PRE011" not in currencies  # forbidden in Kingdee
    accounts = _codes(demo_integration, "kingdee", "account")
    assert {"6603.03", "6001", "2221.01"} <= set(accounts)
    assert _codes(demo_integration, "kingdee", "tax_rate")["SL06_SYS"].extra == {"rate": "6"}
    assert {"10001", "10005"} <= set(_codes(demo_integration, "jushuitan", "shop"))
    assert "20001" in _codes(demo_integration, "jushuitan", "warehouse")

    client.force_login(_user(django_user_model, "purchasing"))
    answer = client.post("/admin/mappings/knowncode/pull/", {"integration": demo_integration.pk})
    assert answer.status_code == 403


def test_integration_action_and_command_pull_and_forget_and_name_an_unreadable_table(
    demo_integration, admin_client, settings
):
    """Issue 24 point 6: GIVEN a tax rate Kingdee deleted since the last pull WHEN the
    Integrations action 'Pull code tables' runs THEN the snapshot forgets it; GIVEN a filter
    Kingdee refuses for BD_Account WHEN `manage.py pull_code_tables` runs THEN it fails naming
    BD_Account and Kingdee's answer, and the other tables are still pulled."""
    from sandbox.kingdee.models import KdBaseData

    assert "SL06_SYS" in _codes(demo_integration, "kingdee", "tax_rate")
    KdBaseData.objects.filter(form_id="BD_TaxRate", number="SL06_SYS").delete()
    page = admin_client.post(
        "/admin/connectors/integration/",
        {"action": "pull_code_tables", "_selected_action": [demo_integration.pk]},
        headers=EN,
        follow=True,
    ).content.decode()
    assert "code tables pulled" in page
    assert set(_codes(demo_integration, "kingdee", "tax_rate")) == {"SL00_CB", "SL02_SYS"}

    KdBaseData.objects.filter(form_id="BD_Currency", number="PRE004").delete()
    settings.PORTAL_KINGDEE_CODE_TABLE_FILTERS = {"BD_Account": "FNoSuchKey = 'C'"}
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("pull_code_tables", demo_integration.code, stdout=io.StringIO(), stderr=err)
    assert "kingdee account: not read: BD_Account" in err.getvalue()
    assert "MsgCode 9" in err.getvalue() and "fnosuchkey" in err.getvalue().lower()
    assert "PRE004" not in _codes(demo_integration, "kingdee", "currency")
    assert "6603.03" in _codes(demo_integration, "kingdee", "account")  # kept, not wiped


def _upload(client, table: str, rows: list[str]) -> str:
    upload = SimpleUploadedFile(f"{table}.csv", ("\n".join(rows) + "\n").encode())
    answer = client.post(
        f"/admin/mappings/{table}/import/",
        {"resource": 0, "format": 1, "import_file": upload},
        headers=EN,
    )
    assert answer.status_code == 302, answer.content[:2000]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if client.get(f"{answer.url}status/", headers=EN).json()["finished"]:
            return client.get(answer.url, headers=EN).content.decode()
        time.sleep(0.1)
    raise AssertionError("the dry run did not finish")


def test_dry_runs_in_the_admin_refuse_codes_the_code_tables_lack(
    demo_integration, admin_client, celery_worker
):
    """Issue 24 point 6: GIVEN the code tables pulled from the Kingdee sandbox WHEN account
    mappings, currency code mappings and tax templates are dry-run in the admin THEN an
    account Kingdee lacks is refused on its row and field with every allowed account listed, a
    shop Jushuitan lacks likewise; USD mapped to EUR's PRE003 is refused naming EUR; a
    currency number Kingdee lacks lists the allowed currencies; a 13 % VAT template on
    Kingdee's 0 % tax rate is refused; an account created in Kingdee since the pull passes
    (Kingdee is asked, the snapshot learns it); nothing is written."""
    from connectors.kingdee.client import client_for

    created = client_for(demo_integration.kingdee).save(
        "BD_Account",
        {"FNumber": "6711", "FName": "营业外支出", "FCreateOrgId": {"FNumber": "100"}},
        auto_submit_audit=True,
    )
    assert created.ok, created.errors
    head = "integration,org_number,purpose,shop_id,account_number,account_name"
    page = _upload(
        admin_client,
        "accountmapping",
        [head, "demo,100,freight,,6601.01,", "demo,100,tariff,,6699,", "demo,100,cost,99999,6711,"],
    )
    assert "“6699”: Kingdee has no account with this code" in page, page[-4000:]
    assert "6603.03 财务费用-汇兑损益" in page and "6601.01 销售费用-运费" in page
    assert "“99999”: Jushuitan has no shop with this code" in page
    assert "“6711”" not in page  # created since the pull: confirmed by Kingdee
    assert "6711" in _codes(demo_integration, "kingdee", "account")

    CodeMapping.objects.filter(integration=demo_integration).delete()
    page = _upload(
        admin_client,
        "codemapping",
        [
            "integration,kind,jushuitan_code,kingdee_code",
            "demo,currency,USD,PRE003",
            "demo,currency,GBP,PRE099",
            "demo,currency,JPY,PRE004",
            "demo,unit,PCS,Pcs",
        ],
    )
    assert "Kingdee currency PRE003 is 欧元 (EUR), not USD" in page, page[-4000:]
    assert "“PRE099”: Kingdee has no currency with this code" in page
    assert "Allowed values: PRE001 人民币 (CNY);" in page and "PRE006 英镑 (GBP)" in page

    page = _upload(
        admin_client,
        "taxtemplate",
        [
            "integration,country,hs_prefix,effective_from,kingdee_tax_number,vat_rate",
            "demo,FR,850760,2026-01-01,SL00_CB,13",
            "demo,IT,850760,2026-01-01,SL02_SYS,13",
        ],
    )
    assert "Kingdee tax rate SL00_CB (出口零税率) is 0%, not 13%" in page, page[-4000:]
    assert "SL02_SYS" not in page.split("Kingdee tax rate", 1)[1][:200]
    assert not AccountMapping.objects.filter(account_number="6711").exists()
    assert not CodeMapping.objects.filter(integration=demo_integration).exists()
    assert not TaxTemplate.objects.filter(country__in=("FR", "IT")).exists()


def test_templates_list_the_codes_and_forms_suggest_them(demo_integration, admin_client):
    """Issue 24 point 6: GIVEN the code tables pulled WHEN the account-mapping and code-mapping
    xlsx templates are downloaded THEN the guide lists Kingdee's accounts and currencies as the
    allowed values, a "codes" sheet lists every one with its details, and the example row uses
    codes Kingdee has; the code-mapping form suggests Kingdee's currencies."""
    content = admin_client.get("/admin/mappings/accountmapping/template/xlsx/").content
    data, guide, codes = tablib.Databook().load(content, format="xlsx").sheets()
    allowed = {row[0]: row[2] for row in guide}
    assert "6603.03 财务费用-汇兑损益" in allowed["account_number"]
    assert "10005" in allowed["shop_id"]
    accounts = _codes(demo_integration, "kingdee", "account")
    assert data[0][data.headers.index("account_number")] in accounts
    listed = {(row[0], row[3]) for row in codes}
    assert {("account_number", "6001"), ("shop_id", "10001")} <= listed

    content = admin_client.get("/admin/mappings/codemapping/template/xlsx/").content
    data, guide, codes = tablib.Databook().load(content, format="xlsx").sheets()
    allowed = {row[0]: row[2] for row in guide}["kingdee_code"]
    assert allowed.startswith("For kind currency") or allowed.startswith("种类为 currency")
    assert "PRE007 美元 (USD)" in allowed
    assert ("kingdee_code", "PRE003") in {(row[0], row[3]) for row in codes}

    form = admin_client.get("/admin/mappings/codemapping/add/").content.decode()
    assert '<datalist id="id_kingdee_code_codes">' in form
    assert '<option value="PRE007">美元 (USD)</option>' in form
    assert 'list="id_kingdee_code_codes"' in form


def test_fx1_names_a_currency_number_kingdee_has_for_another_currency(
    demo_integration, admin_client
):
    """Issue 24 point 6: GIVEN Kingdee's currencies pulled and USD mapped to PRE003 (EUR in
    Kingdee) WHEN the checklist is opened THEN FX1 is red and names USD → PRE003 as EUR."""
    from mappings.models import ShopCustomerMapping

    ShopCustomerMapping.objects.filter(integration=demo_integration).update(settle_currency="USD")
    CodeMapping.objects.filter(integration=demo_integration, jushuitan_code="USD").update(
        kingdee_code="PRE003"
    )
    page = admin_client.get("/monitoring/checklist/", headers=EN).content.decode()
    assert "USD → PRE003: Kingdee&#x27;s PRE003 is EUR" in page, page[:200]


@pytest.mark.usefixtures("english")
def test_a_long_code_table_names_the_closest_codes(demo_integration):
    """Issue 24 point 6: GIVEN a chart of 60 accounts in the snapshot WHEN an account mapping
    naming 6603.3 (a typo of 6603.03, which Kingdee confirms it lacks) is dry-run THEN the row's
    error names the field, says how many accounts are known and offers the closest ones."""
    from django.utils import timezone

    from mappings.services import import_table

    KnownCode.objects.bulk_create(
        KnownCode(
            integration=demo_integration,
            system="kingdee",
            kind="account",
            code=f"5{n:03d}",
            name=f"科目 {n}",
            seen_at=timezone.now(),
        )
        for n in range(50)
    )
    report = import_table(
        table="account",
        content=b"integration,org_number,purpose,shop_id,account_number\ndemo,100,tariff,,6603.3\n",
        file_format="csv",
        dry_run=True,
    )
    [(row, message)] = report.row_errors
    assert row == 1 and message.startswith("account_number: “6603.3”"), message
    known = len(_codes(demo_integration, "kingdee", "account"))
    assert known > 50 and f"{known} codes are known" in message, message
    assert "6603.03 财务费用-汇兑损益" in message and "5001" not in message
