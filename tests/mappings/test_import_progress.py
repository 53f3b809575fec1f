"""Bulk import in the admin, run by the worker with a progress bar: upload, progress rising
(seen by a second request while the import runs), dry-run preview with per-row errors,
confirm, all or nothing, permissions (M1–M5 bulk import, M4 10,000 rows, M8 history)."""

import sys
import time

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from mappings.choices import MappingSource
from mappings.models import ImportJob, MaterialMapping

pytestmark = pytest.mark.django_db

URL = "/admin/mappings/materialmapping/"
EN = {"Accept-Language": "en"}
CSV, XLSX = 1, 0  # positions in MappingAdminBase.formats


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(["integration,sku_id,material_number,unit_factor", *rows]) + "\n").encode()


def _upload(client, content: bytes, *, file_format: int = CSV, name: str = "materials.csv"):
    upload = SimpleUploadedFile(name, content)
    return client.post(
        f"{URL}import/",
        {"resource": 0, "format": file_format, "import_file": upload},
        headers=EN,
    )


def _follow(client, job_url: str, timeout: float = 180.0) -> list[dict]:
    """Poll the job's status like the page's script does; every state seen, until finished."""
    states = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"{job_url}status/", headers=EN)
        assert answer.status_code == 200
        states.append(answer.json())
        if states[-1]["finished"]:
            return states
        time.sleep(0.05)
    raise AssertionError(f"the import did not finish within {timeout:.0f} s: {states[-1]}")


def _rising(states: list[dict]) -> list[int]:
    """Rows processed reported while the job ran with a known total (strictly between)."""
    middle = [s["processed"] for s in states if s["status"] == "running" and s["total"]]
    assert middle == sorted(middle), "rows processed never go back"
    return [n for n in middle if 0 < n < states[-1]["total"]]


@pytest.mark.usefixtures("integration")
def test_ten_thousand_rows_show_progress_then_preview_then_import(
    admin_client, admin_user, celery_worker, capsys
):
    """M4 (+ M1, M8): GIVEN a 10,000-row csv uploaded in the admin WHEN the worker checks it
    (dry run) THEN the job's page shows a progress bar whose status, polled by a second
    request, rises through 0 < processed < 10,000 to the end, the preview counts 10,000 new
    rows and nothing is written; WHEN confirmed THEN the import shows its progress too, and
    all 10,000 rows are in the table, explicit, with their history naming the admin."""
    rows = [f"main,SKU-{n:05d},MAT-{n:05d},1" for n in range(10_000)]
    answer = _upload(admin_client, _csv(rows))
    assert answer.status_code == 302, answer.content[:2000]
    job_url = answer.url
    page = admin_client.get(job_url, headers=EN)
    assert page.status_code == 200
    assert b"materials.csv" in page.content

    started = time.perf_counter()
    states = _follow(admin_client, job_url)
    dry_run_seconds = time.perf_counter() - started
    assert _rising(states), states
    assert states[-1] | {"label": ""} == {
        "status": "done",
        "label": "",
        "processed": 10_000,
        "total": 10_000,
        "percent": 100,
        "finished": True,
        "ok": True,
    }
    preview = admin_client.get(job_url, headers=EN).content.decode()
    assert "10000 rows checked" in preview and "Confirm import" in preview
    assert "SKU-00000" in preview and "New" in preview  # the sample of the first rows
    assert 'id="import-progress"' not in preview
    assert not MaterialMapping.objects.exists()

    answer = admin_client.post(f"{job_url}confirm/", headers=EN)
    assert answer.status_code == 302
    import_url = answer.url
    assert import_url != job_url
    started = time.perf_counter()
    states = _follow(admin_client, import_url)
    import_seconds = time.perf_counter() - started
    assert _rising(states), states
    assert (states[-1]["status"], states[-1]["processed"], states[-1]["ok"]) == (
        "done",
        10_000,
        True,
    )
    summary = admin_client.get(import_url, headers=EN).content.decode()
    assert "Imported." in summary and "10000" in summary

    assert MaterialMapping.objects.count() == 10_000
    assert not MaterialMapping.objects.exclude(source=MappingSource.EXPLICIT).exists()
    assert MaterialMapping.history.filter(history_user=admin_user).count() == 10_000
    # A second click on "Confirm import" imports nothing twice: it leads to the same import.
    again = admin_client.post(f"{job_url}confirm/", headers=EN)
    assert again.url == import_url
    assert ImportJob.objects.filter(dry_run=False).count() == 1
    assert ImportJob.objects.get(pk=import_url.rstrip("/").rsplit("/", 1)[-1]).content == b""
    with capsys.disabled():
        sys.stdout.write(
            f"\n10,000-row admin import through the worker: dry run {dry_run_seconds:.1f} s, "
            f"import {import_seconds:.1f} s, {len(states)} status polls\n"
        )


@pytest.mark.usefixtures("integration")
def test_a_bad_row_imports_nothing_and_the_preview_names_it(admin_client, celery_worker):
    """M4: GIVEN a file whose third row repeats the key of the second WHEN uploaded THEN the
    preview names the row and its error, offers no confirmation, a forced confirm is refused,
    and nothing is imported."""
    content = _csv(["main,SKU-1,MAT-1,1", "main,SKU-2,MAT-2,1", "main,SKU-2,MAT-3,1"])
    job_url = _upload(admin_client, content).url
    states = _follow(admin_client, job_url)
    assert (states[-1]["status"], states[-1]["ok"]) == ("done", False)
    preview = admin_client.get(job_url, headers=EN).content.decode()
    assert "Row 3" in preview and "already on row 2" in preview
    assert "nothing was imported" in preview and "Confirm import" not in preview

    refused = admin_client.post(f"{job_url}confirm/", headers=EN, follow=True)
    assert "cannot be imported" in refused.content.decode()
    assert not ImportJob.objects.filter(dry_run=False).exists()
    assert not MaterialMapping.objects.exists()


def test_the_import_is_all_or_nothing_when_the_table_changed_since_the_preview(
    integration, admin_client, celery_worker
):
    """M4: GIVEN a preview without errors WHEN someone takes one of the file's material numbers
    before it is confirmed THEN the import itself finds the row, reports it and writes none
    of the file's rows."""
    content = _csv([f"main,SKU-{n},MAT-{n},1" for n in range(50)])
    job_url = _upload(admin_client, content).url
    assert _follow(admin_client, job_url)[-1]["ok"]
    MaterialMapping.objects.create(integration=integration, sku_id="OTHER", material_number="MAT-7")

    import_url = admin_client.post(f"{job_url}confirm/", headers=EN).url
    states = _follow(admin_client, import_url)
    assert (states[-1]["status"], states[-1]["ok"]) == ("done", False)
    summary = admin_client.get(import_url, headers=EN).content.decode()
    assert "Row 8" in summary and "MAT-7" in summary and "nothing was imported" in summary
    assert list(MaterialMapping.objects.values_list("sku_id", flat=True)) == ["OTHER"]


@pytest.mark.usefixtures("integration")
def test_an_unreadable_file_fails_with_a_message(admin_client, celery_worker):
    """M1: a file that is not what its format says ends the job with a message, not a hang."""
    job_url = _upload(admin_client, b"not a spreadsheet", file_format=XLSX, name="x.xlsx").url
    assert _follow(admin_client, job_url)[-1]["status"] == "failed"
    page = admin_client.get(job_url, headers=EN).content.decode()
    assert "The import stopped" in page and "Upload a file again" in page


def test_only_people_who_may_change_the_table_import(
    integration, client, admin_client, django_user_model
):
    """M1 + M8: importing needs the table's change permission: a viewer is refused the form,
    the upload and the job pages; someone who may change it sees their own jobs only."""
    job_url = _upload(admin_client, _csv(["main,SKU-1,MAT-1,1"])).url  # queued, not run here

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_materialmapping"))
    client.force_login(viewer)
    assert client.get(f"{URL}import/").status_code == 403
    assert _upload(client, _csv(["main,SKU-2,MAT-2,1"])).status_code == 403
    for suffix in ("", "status/"):
        assert client.get(f"{job_url}{suffix}").status_code == 403
    assert client.post(f"{job_url}confirm/").status_code == 403
    assert ImportJob.objects.count() == 1

    editor = django_user_model.objects.create_user("editor", password="x", is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_materialmapping", "change_materialmapping"])
    )
    client.force_login(editor)
    assert client.get(f"{URL}import/").status_code == 200
    assert client.get(f"{job_url}status/").status_code == 404  # the admin's job
    own = _upload(client, _csv(["main,SKU-2,MAT-2,1"]))
    assert own.status_code == 302
    page = client.get(own.url, headers=EN)
    assert page.status_code == 200 and b'id="import-progress"' in page.content
    assert client.get(f"{own.url}status/").json()["status"] == "queued"
    # The job of one table is not reachable under another table's admin.
    other = own.url.replace("materialmapping", "suppliermapping")
    assert client.get(other).status_code in (403, 404)


def test_only_an_import_that_wrote_rows_releases_blocked_documents(integration, admin_user):
    """M4 + F1.3: an import job that wrote its rows sends import-export's post_import (the
    flows release documents blocked for a missing mapping on it), as the admin did; a dry run
    and an import refused for a bad row send nothing."""
    from import_export.signals import post_import

    from mappings.services import import_job_run, import_job_start

    sent = []

    def receiver(sender, model, **kwargs):
        sent.append(model)

    post_import.connect(receiver, dispatch_uid="test-import-progress")
    try:
        for content, dry_run in (
            (_csv(["main,SKU-1,MAT-1,1"]), True),
            (_csv(["main,SKU-1,MAT-1,1", "main,SKU-1,MAT-2,1"]), False),
            (_csv(["main,SKU-1,MAT-1,1"]), False),
        ):
            job = import_job_start(
                table="material",
                content=content,
                file_format="csv",
                dry_run=dry_run,
                user=admin_user,
            )
            import_job_run(job_id=str(job.pk))
    finally:
        post_import.disconnect(dispatch_uid="test-import-progress")
    assert sent == [MaterialMapping]
    assert MaterialMapping.objects.count() == 1
