"""Issue 20 point 1: fold the open per-document tickets of one root cause into one ticket
that lists the documents (TicketDocument). The oldest ticket of a cause becomes the cause's
ticket; the others close, naming it."""

from django.db import migrations
from django.utils import timezone

from monitoring.causes import cause_key

OPEN = ("open", "in_progress")


def _shortage_lines(payload: dict) -> list:
    for entry in payload.get("FEntity") or []:
        material = (entry.get("FMaterialID") or entry.get("FMaterialId") or {}).get("FNumber", "")
        stock = (entry.get("FStockID") or entry.get("FStockId") or {}).get("FNumber", "")
        return [[material, stock, str(entry.get("FRealQty", 0))]]
    return []


def _cause_of(ticket) -> str:
    doc = ticket.document
    detail = dict(ticket.detail or {})
    payload = doc.target_payload or {}
    if ticket.error_class == "insufficient_stock" and not detail.get("lines"):
        detail["lines"] = _shortage_lines(payload)
    # Kingdee bills carry FBillNo; the stored ticket does not name its system otherwise.
    system = "kingdee" if "FBillNo" in payload else ""
    return cause_key(
        ticket.error_class,
        detail,
        integration=doc.integration.code,
        system=system,
        message=ticket.message,
        drop=(doc.target_key, doc.platform_order_no, doc.source_key),
    )[:300]


def fold(apps, schema_editor):
    Ticket = apps.get_model("monitoring", "ExceptionTicket")
    Link = apps.get_model("monitoring", "TicketDocument")
    groups: dict[str, list] = {}
    tickets = Ticket.objects.filter(status__in=OPEN, document__isnull=False, is_cause=False)
    for ticket in tickets.select_related("document__integration").order_by("created_at", "id"):
        if ticket.trace_key != ticket.document.idempotency_key:
            continue  # a second ticket of the document (revaluation, write-back): its own
        key = _cause_of(ticket)
        if key:
            groups.setdefault(key, []).append(ticket)
    now = timezone.now()
    for key, members in groups.items():
        keeper, others = members[0], members[1:]
        Link.objects.bulk_create(
            [Link(ticket=keeper, document_id=t.document_id) for t in members],
            ignore_conflicts=True,
        )
        Ticket.objects.filter(pk__in=[t.pk for t in others]).update(
            status="resolved",
            resolved_at=now,
            resolution=f"Folded into ticket #{keeper.pk} of its cause ({key}).",
            updated_at=now,
        )
        keeper.trace_key = key
        keeper.is_cause = True
        keeper.document = None
        keeper.occurrences = sum(t.occurrences for t in members)
        keeper.save(update_fields=["trace_key", "is_cause", "document", "occurrences"])


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0004_ticket_causes"),
        ("flows", "0010_merge_20261203_1600"),
        ("connectors", "0002_preflight_run"),
    ]

    operations = [migrations.RunPython(fold, migrations.RunPython.noop)]
