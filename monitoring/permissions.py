"""Who sees and who works which exception tickets (O4).

Master-data admins, finance and purchasing each work their own queue; operators work every
queue; managers read everything and act on nothing. Django permissions say *whether* a user may
change tickets at all, the role says *which* tickets.
"""

from django.db.models import QuerySet

from core.roles import Role

from .models import OPEN_TICKET_STATUSES, ExceptionTicket

# These roles see every queue; the others see their own.
SEE_ALL_ROLES = frozenset({Role.MANAGER, Role.OPERATOR})
# These roles act on every queue (with the change permission).
ACT_ON_ALL_ROLES = frozenset({Role.OPERATOR})


def user_roles(user) -> set[str]:
    """The portal roles (Django groups) of a user."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_portal_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = {role for role in Role.values if role in names}
        user._portal_roles = cached
    return cached


def sees_all_queues(user) -> bool:
    return bool(user.is_superuser or user_roles(user) & SEE_ALL_ROLES)


def tickets_visible_to(*, user) -> QuerySet[ExceptionTicket]:
    """The tickets in the user's queues."""
    tickets = ExceptionTicket.objects.all()
    if not (user.is_active and user.has_perm("monitoring.view_exceptionticket")):
        return tickets.none()
    if sees_all_queues(user):
        return tickets
    return tickets.filter(role__in=user_roles(user))


def ticket_can_view(*, user, ticket: ExceptionTicket) -> bool:
    return tickets_visible_to(user=user).filter(pk=ticket.pk).exists()


def ticket_can_act(*, user, ticket: ExceptionTicket) -> bool:
    """May this user assign, comment, retry, ignore or resolve this ticket?"""
    if not (user.is_active and user.has_perm("monitoring.change_exceptionticket")):
        return False
    if user.is_superuser or user_roles(user) & ACT_ON_ALL_ROLES:
        return True
    return ticket.role in user_roles(user)


def document_can_edit(*, user) -> bool:
    """May this user edit a document's target payload (edit-and-retry)?"""
    return bool(user.is_active and user.has_perm("flows.change_syncdocument"))


def acts_on_all_queues(user) -> bool:
    return bool(user.is_superuser or user_roles(user) & ACT_ON_ALL_ROLES)


def document_can_act(*, user, document) -> bool:
    """May this user change this document in the admin (retry, ignore, edit its target payload)?

    The queue rule of the ticket pages, for documents: operators (and superusers) act on every
    document; a queue role only on a document with an open ticket in its own queue (the admin
    cannot reach round the ticket pages)."""
    if not document_can_edit(user=user):
        return False
    if acts_on_all_queues(user):
        return True
    return ExceptionTicket.objects.filter(
        document_id=document.pk, status__in=OPEN_TICKET_STATUSES, role__in=user_roles(user)
    ).exists()


def role_may_work(*, user, role: str) -> bool:
    """May this user be given tickets of this queue (assignment target check)?"""
    if not user.is_active:
        return False
    if user.is_superuser or user_roles(user) & ACT_ON_ALL_ROLES:
        return True
    return role in user_roles(user) and user.has_perm("monitoring.change_exceptionticket")
