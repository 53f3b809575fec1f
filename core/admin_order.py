"""The admin home grouped around the work (issue 24 point 2): connections first, then the
setup in go-live order, operations, finance; the simulators and the library apps (users,
schedules, login lockouts) last, instead of Django's alphabetical list (AXES first)."""

from django.contrib import admin

WORK_ORDER = (
    "connectors",
    "kingdee",
    "jushuitan",
    "dingtalk",
    "fx",
    "mappings",
    "masterdata",
    "flows",
    "monitoring",
    "finance",
    "core",
)
LIBRARY_LAST = ("sandbox", "sandbox_kingdee", "sandbox_jushuitan", "sandbox_robots", "sandbox_fx")


def _rank(app: dict) -> tuple[int, str]:
    label = app["app_label"]
    if label in WORK_ORDER:
        return (WORK_ORDER.index(label), "")
    if label in LIBRARY_LAST:
        return (100 + LIBRARY_LAST.index(label), "")
    return (200, str(app["name"]))  # auth, django_celery_beat, axes, ...: library apps


def install() -> None:
    site = admin.site
    if getattr(site.get_app_list, "_work_ordered", False):
        return
    original = site.get_app_list

    def get_app_list(request, app_label=None):
        return sorted(original(request, app_label), key=_rank)

    get_app_list._work_ordered = True
    site.get_app_list = get_app_list
