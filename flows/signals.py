"""When people fix what blocked documents (a mapping, an exchange rate), put them back to work."""

from django.db import transaction
from django.db.models.signals import post_save

from core.messages import gettext as _

from .choices import ErrorClass

# Saving a row of one of these releases documents blocked for this class of problem.
RELEASES = {
    "mappings.ShopCustomerMapping": ErrorClass.MISSING_MAPPING,
    "mappings.WarehouseMapping": ErrorClass.MISSING_MAPPING,
    "mappings.SupplierMapping": ErrorClass.MISSING_MAPPING,
    "mappings.MaterialMapping": ErrorClass.MISSING_MAPPING,
    "mappings.CodeMapping": ErrorClass.MISSING_MAPPING,
    "mappings.TaxTemplate": ErrorClass.MISSING_MAPPING,
    "mappings.AccountMapping": ErrorClass.MISSING_MAPPING,
}


def _release(sender, instance, **kwargs) -> None:
    from .services import documents_release_blocked

    integration_id = getattr(instance, "integration_id", None)
    if integration_id is None:
        return
    error_class = RELEASES[sender._meta.label]
    reason = _("Released: %(what)s changed (%(row)s).") % {
        "what": sender._meta.verbose_name,
        "row": str(instance)[:120],
    }
    transaction.on_commit(
        lambda: documents_release_blocked(
            integration_id=integration_id, error_class=error_class, reason=reason
        )
    )


def _release_after_import(sender, model, **kwargs) -> None:
    """An admin file import (django-import-export writes in bulk, without post_save) releases
    the documents its table may unblock, in every integration that has some."""
    from .choices import DocumentState
    from .models import SyncDocument
    from .services import documents_release_blocked

    error_class = RELEASES.get(model._meta.label)
    if error_class is None:
        return
    reason = _("Released: %(what)s imported from a file.") % {"what": model._meta.verbose_name}
    integration_ids = set(
        SyncDocument.objects.filter(state=DocumentState.BLOCKED, last_error_class=error_class)
        .values_list("integration_id", flat=True)
        .distinct()
    )
    for integration_id in sorted(integration_ids):
        transaction.on_commit(
            lambda i=integration_id: documents_release_blocked(
                integration_id=i, error_class=error_class, reason=reason
            )
        )


def connect() -> None:
    from django.apps import apps
    from import_export.signals import post_import

    for label in RELEASES:
        model = apps.get_model(label)
        post_save.connect(_release, sender=model, dispatch_uid=f"flows.release.{label}")
    post_import.connect(_release_after_import, dispatch_uid="flows.release.import")
