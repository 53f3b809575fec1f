"""{{ text|localized }}: generated text stored without its message data (a document's last
error, a flow's last error) in the reader's language when it matches a message of the
catalogue, else as stored (issue 20 point 4)."""

from django import template

from core.messages import localize

register = template.Library()


@register.filter
def localized(text):
    return localize(str(text)) if text else text
