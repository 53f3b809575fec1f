"""Issue #5, in a real browser: a master-data admin uploads a 10,000-row mapping file and
watches the progress bar (moved by static/mappings/import_progress.js) until the preview."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

_BAR_MOVING = """() => {
  const bar = document.querySelector('#import-progress progress');
  return bar !== null && bar.max > 1 && bar.value > 0 && bar.value < bar.max;
}"""


@pytest.mark.usefixtures("integration", "celery_worker")
def test_mdm_watches_the_progress_bar_then_the_preview(open_browser, shot, tmp_path):
    """M4: GIVEN the master-data admin uploads 10,000 SKU ↔ material rows WHEN the worker
    checks them THEN the page's bar and counts rise while it runs (0 < rows < 10,000), and
    the page turns into the preview with the confirm button when the dry run ends."""
    upload = tmp_path / "materials.csv"
    rows = [f"main,SKU-{n:05d},MAT-{n:05d},1" for n in range(10_000)]
    upload.write_text("\n".join(["integration,sku_id,material_number,unit_factor", *rows]))
    page = open_browser("mdm")
    page.goto("/admin/mappings/materialmapping/import/")
    page.set_input_files("input[name=import_file]", str(upload))
    page.select_option("select[name=format]", label="csv")
    page.locator("#content input[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/admin/mappings/materialmapping/import/[0-9a-f-]+/$"))

    page.wait_for_function(_BAR_MOVING, timeout=60_000)
    counts = page.inner_text("#import-progress .import-counts")
    assert re.search(r"of 10,?000 rows", counts), counts
    shot(page, "04a-mapping-import-progress")

    page.locator("input[type=submit][name=confirm]").wait_for(timeout=120_000)
    preview = page.inner_text("#content")
    assert "10000 rows checked" in preview and "SKU-00000" in preview
    assert page.locator("#import-progress").count() == 0
