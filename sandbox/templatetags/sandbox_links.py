"""The "Sandbox" box of the admin home: the simulators' pages a person can open."""

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

register = template.Library()

# (label, admin changelist URL name or plain URL name, permission needed)
LINKS = (
    (
        _("Kingdee: documents"),
        "admin:sandbox_kingdee_kdbill_changelist",
        "sandbox_kingdee.view_kdbill",
    ),
    (
        _("Kingdee: stock"),
        "admin:sandbox_kingdee_kdstockbalance_changelist",
        "sandbox_kingdee.view_kdstockbalance",
    ),
    (
        _("Jushuitan: orders"),
        "admin:sandbox_jushuitan_order_changelist",
        "sandbox_jushuitan.view_order",
    ),
    (
        _("Jushuitan: after-sales"),
        "admin:sandbox_jushuitan_aftersale_changelist",
        "sandbox_jushuitan.view_aftersale",
    ),
    (
        _("Jushuitan: warehouse documents"),
        "admin:sandbox_jushuitan_stockdocument_changelist",
        "sandbox_jushuitan.view_stockdocument",
    ),
    (
        _("Jushuitan: stock"),
        "admin:sandbox_jushuitan_stock_changelist",
        "sandbox_jushuitan.view_stock",
    ),
    (_("Robots: inbox"), "sandbox-robots-inbox", "sandbox_robots.view_receivedmessage"),
    (_("Fault injection switches"), "sandbox-fault-switches", "sandbox.change_faultprofile"),
)


@register.inclusion_tag("sandbox/_admin_box.html", takes_context=True)
def sandbox_box(context) -> dict:
    """Links to the simulators' pages the user may open (nothing when the sandbox is off)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    links = []
    if settings.SANDBOX_ENABLED and user is not None:
        for label, name, permission in LINKS:
            if permission and not user.has_perm(permission):
                continue
            try:
                links.append((label, reverse(name)))
            except NoReverseMatch:
                continue
    return {"links": links}
