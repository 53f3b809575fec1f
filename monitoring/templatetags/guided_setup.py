"""{% guided_setup_box %}: the guided setup as the admin home's first section (issue 24)."""

from django import template

register = template.Library()


@register.inclusion_tag("monitoring/_guided_box.html", takes_context=True)
def guided_setup_box(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("flows.view_flow"):
        return {"show": False}
    from ..guided import steps_for

    steps = steps_for(user)
    return {
        "show": True,
        "steps": steps,
        "integration": None,
        "done": sum(1 for step in steps if step.status == "ok"),
        "total": len(steps),
    }
