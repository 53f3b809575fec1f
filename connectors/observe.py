"""A signal every connector sends after each remote call, so the trace view (O3) can show
request and answer without connectors importing monitoring. Secrets must be masked by the
sender before sending (see core.logging.mask_text)."""

from django.dispatch import Signal

# kwargs: system (str), operation (str), url (str), request (dict|str), response (dict|str),
#         status (int|None), duration_ms (float), error (str), keys (dict of search keys)
remote_call = Signal()
