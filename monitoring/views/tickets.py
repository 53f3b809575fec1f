"""O4 exception work orders (异常工单): the queue, one ticket, its actions, bulk actions.
Views parse input, call one service and report; services enforce who may do what."""

import json
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.roles import Role

from .. import fixes, services
from ..errors import TicketError
from ..forms import (
    AssignForm,
    BulkForm,
    CommentForm,
    PayloadForm,
    ReasonForm,
    ResolveForm,
    TicketFilterForm,
)
from ..models import OPEN_TICKET_STATUSES, ExceptionTicket, TicketDocument
from ..permissions import (
    document_can_edit,
    sees_all_queues,
    ticket_can_act,
    tickets_visible_to,
    user_roles,
)
from .common import operations_view, page_context

VIEW = "monitoring.view_exceptionticket"
PAGE_SIZE = 50


def _filtered(request: HttpRequest, form: TicketFilterForm) -> QuerySet[ExceptionTicket]:
    tickets = (
        tickets_visible_to(user=request.user)
        .select_related("assignee", "document", "integration")
        .annotate(document_count=Count("links"))
    )
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or "active"
    if status == "active":
        tickets = tickets.filter(status__in=OPEN_TICKET_STATUSES)
    elif status != "all":
        tickets = tickets.filter(status=status)
    for name in ("role", "error_class"):
        if data.get(name):
            tickets = tickets.filter(**{name: data[name]})
    if data.get("flow"):
        tickets = tickets.filter(flow_code=data["flow"])
    if data.get("integration"):
        tickets = tickets.filter(integration_id=data["integration"])
    if data.get("assigned") == "me":
        tickets = tickets.filter(assignee=request.user)
    elif data.get("assigned") == "nobody":
        tickets = tickets.filter(assignee__isnull=True)
    if data.get("q"):
        q = data["q"].strip()
        held = TicketDocument.objects.filter(ticket=OuterRef("pk")).filter(
            Q(document__platform_order_no=q) | Q(document__kingdee_bill_no=q)
        )
        tickets = tickets.filter(
            Q(title__icontains=q)
            | Q(trace_key=q)
            | Q(document__platform_order_no=q)
            | Q(document__kingdee_bill_no=q)
            | Exists(held)
        )
    return tickets.order_by("-last_seen_at", "-id")


@operations_view(VIEW)
def ticket_list(request: HttpRequest) -> HttpResponse:
    form = TicketFilterForm(request.GET or None)
    page = Paginator(_filtered(request, form), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    roles = user_roles(request.user)
    return render(
        request,
        "monitoring/tickets.html",
        page_context(
            request,
            title=_("Exception tickets"),
            form=form,
            page=page,
            query=query.urlencode(),
            bulk_form=BulkForm(),
            sees_all=sees_all_queues(request.user),
            my_queues=[label for value, label in Role.choices if value in roles],
            can_act_ids={t.pk for t in page if ticket_can_act(user=request.user, ticket=t)},
        ),
    )


def _visible_ticket(request: HttpRequest, pk: int) -> ExceptionTicket:
    ticket = get_object_or_404(
        ExceptionTicket.objects.select_related("document", "document__flow", "assignee"), pk=pk
    )
    if not tickets_visible_to(user=request.user).filter(pk=pk).exists():
        raise Http404
    return ticket


def _queue_users(ticket: ExceptionTicket):
    """Users who may be given this ticket: its queue's members and the operators."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name=ticket.role) | Q(groups__name=Role.OPERATOR) | Q(is_superuser=True))
        .distinct()
        .order_by("username")
    )


def _mapping_admin_url() -> str:
    try:
        return reverse("admin:app_list", kwargs={"app_label": "mappings"})
    except NoReverseMatch:
        return ""


def _edited_document(request: HttpRequest, ticket: ExceptionTicket):
    """The document whose payload is edited: the ticket's own, or for a cause ticket the one
    chosen in its list (the first by default)."""
    if not ticket.is_cause:
        return ticket.document
    links = ticket.links.select_related("document", "document__flow")
    chosen = request.POST.get("document") or request.GET.get("document")
    if chosen and str(chosen).isdigit():
        links = links.filter(document_id=int(chosen))
    link = links.first()
    return link.document if link is not None else None


@operations_view(VIEW)
def ticket_detail(request: HttpRequest, pk: int, payload_form: PayloadForm | None = None):
    ticket = _visible_ticket(request, pk)
    document = _edited_document(request, ticket)
    if payload_form is None and document is not None:
        payload_form = PayloadForm(
            initial={
                "target_payload": json.dumps(
                    document.target_payload or {}, ensure_ascii=False, indent=2
                )
            }
        )
    return render(
        request,
        "monitoring/ticket.html",
        page_context(
            request,
            title=ticket.title_text,
            ticket=ticket,
            document=document,
            comments=ticket.comments.select_related("author"),
            can_act=ticket_can_act(user=request.user, ticket=ticket),
            can_edit=document_can_edit(user=request.user),
            assign_form=AssignForm(
                users=_queue_users(ticket), initial={"assignee": ticket.assignee_id}
            ),
            comment_form=CommentForm(),
            ignore_form=ReasonForm(),
            resolve_form=ResolveForm(),
            payload_form=payload_form,
            mapping_url=_mapping_admin_url() if ticket.error_class == "missing_mapping" else "",
            held=_held_documents(ticket),
            **_fix_context(request, ticket),
            events=document.events.select_related("actor").order_by("-created_at", "-id")[:30]
            if document is not None
            else [],
        ),
    )


SHOWN_DOCUMENTS = 200


def _held_documents(ticket: ExceptionTicket) -> dict:
    """The documents a cause ticket holds (issue 20 point 1): how many, the first ones."""
    if not ticket.is_cause:
        return {}
    links = ticket.links.select_related("document", "document__flow")
    return {
        "count": links.count(),
        "documents": [link.document for link in links[:SHOWN_DOCUMENTS]],
    }


def _fix_context(request: HttpRequest, ticket: ExceptionTicket) -> dict:
    """What the in-place fix of the ticket needs (issue 20 point 2)."""
    kind = fixes.fix_kind(ticket) if ticket.is_open else ""
    context: dict = {"fix": kind}
    if kind == fixes.FIX_MAPPING:
        query = request.GET.get("codes", "")
        context["fix_codes"] = fixes.target_codes(ticket, query)
        context["fix_query"] = query
        context["fix_mapping"] = fixes.MAPPING_FIXES[ticket.detail["kind"]]
    elif kind == fixes.FIX_SHORTAGE:
        context["shortage"] = fixes.shortage_of(ticket)
    return context


def _fix(request: HttpRequest, ticket: ExceptionTicket) -> str:
    """Apply the in-place fix posted on the ticket page."""
    kind = fixes.fix_kind(ticket)
    if kind == fixes.FIX_MAPPING:
        fixes.ticket_fix_mapping(
            ticket=ticket, user=request.user, target_code=request.POST.get("target_code", "")
        )
        return _("Mapping added; the documents of this ticket are being retried.")
    if kind == fixes.FIX_RATE:
        try:
            rate = Decimal(request.POST.get("rate", "").strip().replace(",", "."))
            unit = int(request.POST.get("quote_unit") or 1)
        except (InvalidOperation, ValueError) as exc:
            raise TicketError(_("Enter the rate as a number, e.g. 7.1234.")) from exc
        fixes.ticket_fix_rate(ticket=ticket, user=request.user, rate=rate, quote_unit=unit)
        return _("Rate entered; the documents of this ticket are being retried.")
    raise TicketError(_("This ticket has nothing to fix here."))


@require_POST
@operations_view(VIEW)
def ticket_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    ticket = _visible_ticket(request, pk)
    user = request.user
    back = HttpResponseRedirect(reverse("monitoring:ticket", args=[pk]))
    try:
        if action == "assign_to_me":
            services.ticket_assign(ticket=ticket, user=user, assignee=user)
            done = _("Assigned to you.")
        elif action == "assign":
            form = AssignForm(request.POST, users=_queue_users(ticket))
            if not form.is_valid():
                raise TicketError(_("Choose a user of this queue."))
            services.ticket_assign(ticket=ticket, user=user, assignee=form.cleaned_data["assignee"])
            done = _("Assignment saved.")
        elif action == "comment":
            form = CommentForm(request.POST)
            if not form.is_valid():
                raise TicketError(_("Write the comment first."))
            services.ticket_comment(ticket=ticket, user=user, text=form.cleaned_data["text"])
            done = _("Comment added.")
        elif action == "retry":
            services.ticket_retry(ticket=ticket, user=user)
            done = (
                _("Its documents were queued for a retry; the ticket closes when none is left.")
                if ticket.is_cause
                else _("The document was queued for a retry; a success closes the ticket.")
            )
        elif action == "edit_retry":
            form = PayloadForm(request.POST)
            document = _edited_document(request, ticket)
            if not form.is_valid() or document is None:
                raise TicketError(_("Paste the edited target payload."))
            try:
                payload = services.target_payload_parse(
                    document=document, text=form.cleaned_data["target_payload"]
                )
                services.ticket_retry(
                    ticket=ticket, user=user, target_payload=payload, document=document
                )
            except TicketError as exc:
                messages.error(request, exc.message)
                response = ticket_detail(request, pk, payload_form=form)
                response.status_code = 400
                return response
            done = _("The edited document was queued for a retry.")
        elif action == "ignore":
            form = ReasonForm(request.POST)
            if not form.is_valid():
                raise TicketError(_("Say why the problem is ignored."))
            services.ticket_ignore(ticket=ticket, user=user, reason=form.cleaned_data["reason"])
            done = _("Ignored; the ticket is closed.")
        elif action == "approve_count":
            from finance.stock_counts import count_approve

            count_approve(ticket=ticket, user=user)
            done = _("Approved: the count bill is audited in Kingdee.")
        elif action == "reject_count":
            from finance.stock_counts import count_reject

            form = ReasonForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            count_reject(ticket=ticket, user=user, reason=reason)
            done = _("Rejected: the saved count bill is deleted in Kingdee.")
        elif action == "fix":
            done = _fix(request, ticket)
        elif action == "resolve":
            form = ResolveForm(request.POST)
            note = form.cleaned_data["note"] if form.is_valid() else ""
            services.ticket_resolve(ticket=ticket, user=user, note=note)
            done = _("Resolved; the ticket is closed.")
        else:
            raise Http404
    except TicketError as exc:
        messages.error(request, exc.message)
        back.status_code = 303
        return back
    messages.success(request, done)
    back.status_code = 303
    return back


@require_POST
@operations_view(VIEW)
def ticket_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    back = HttpResponseRedirect(
        reverse("monitoring:tickets") + "?" + request.POST.get("query", ""), status=303
    )
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
    if not form.is_valid() or not ids:
        messages.error(request, _("Choose tickets and an action."))
        return back
    tickets = list(tickets_visible_to(user=request.user).filter(pk__in=ids).order_by("id"))
    try:
        outcome = services.tickets_bulk(
            tickets=tickets,
            user=request.user,
            action=form.cleaned_data["action"],
            reason=form.cleaned_data["reason"],
        )
    except TicketError as exc:
        messages.error(request, exc.message)
        return back
    if outcome.done:
        messages.success(request, _("%(n)d tickets done.") % {"n": len(outcome.done)})
    for pk, why in outcome.refused:
        messages.warning(request, _("Ticket %(pk)d: %(why)s") % {"pk": pk, "why": why})
    return back
