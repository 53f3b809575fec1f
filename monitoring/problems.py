"""What each error class means to a person: which queue it goes to, a plain title and the
suggested fix (O4). Texts are translatable; `{...}` placeholders come from the ticket detail."""

from django.utils.translation import gettext_lazy as _

from core.roles import Role

# error class -> (role, title template, suggested fix)
PROBLEMS = {
    "missing_mapping": (
        Role.MASTER_DATA_ADMIN,
        _("Missing mapping: {subject}"),
        _(
            "Add the mapping in Mappings (or a row in the code-mapping table), then press "
            "'Retry'. Documents blocked by the same mapping are released when it is added."
        ),
    ),
    "missing_value": (
        Role.MASTER_DATA_ADMIN,
        _("Required field missing: {subject}"),
        _("Complete the field in the source system (or edit the document here) and retry."),
    ),
    "invalid_value": (
        Role.FINANCE,
        _("Invalid value: {subject}"),
        _("Correct the value in the source system or edit the target payload, then retry."),
    ),
    "remote_rejected": (
        Role.FINANCE,
        _("Rejected by {system}: {subject}"),
        _("Read the remote system's message below, fix the data it names, then retry."),
    ),
    "duplicate": (
        Role.FINANCE,
        _("Duplicate in {system}: {subject}"),
        _("The target already holds a document with this number. Check it and resolve or ignore."),
    ),
    "insufficient_stock": (
        Role.PURCHASING,
        _("Stock shortage: {subject}"),
        _(
            "Expedite replenishment (加急补货). The quantity is frozen as pending-inspection "
            "stock and the document is retried by itself when stock arrives."
        ),
    ),
    "fx_unavailable": (
        Role.FINANCE,
        _("Exchange rate unavailable: {subject}"),
        _("Enter the rate in Exchange rates (marked as a manual override), then retry."),
    ),
    "auth": (
        Role.OPERATOR,
        _("{system} rejected the credentials"),
        _("Check the connection's credentials or token in the admin and use 'Test connection'."),
    ),
    "connection": (
        Role.OPERATOR,
        _("{system} unreachable: {subject}"),
        _("The portal retried and gave up. Check the remote system, then retry."),
    ),
    "rate_limited": (
        Role.OPERATOR,
        _("{system} rate limit: {subject}"),
        _("The portal retried and gave up. Lower the flow's batch rate, then retry."),
    ),
    "unknown_outcome": (
        Role.OPERATOR,
        _("Unknown outcome in {system}: {subject}"),
        _("Check in the target whether the document exists; retry asks the target first."),
    ),
    "dependency": (
        Role.FINANCE,
        _("Related document missing: {subject}"),
        _(
            "The document it refers to (e.g. the original sales outbound of a return) has not "
            "reached the target. Sync or fix that one first; this one then follows by itself."
        ),
    ),
    "internal": (
        Role.OPERATOR,
        _("Internal error: {subject}"),
        _("Report the trace to the portal's maintainers; the document can be retried."),
    ),
    # Issue 19 point 5 / F8.2: a count bill saved in Kingdee waits for finance's approval.
    "count_approval": (
        Role.FINANCE,
        _("Approve stock count: {subject}"),
        _(
            "Check the count below. 'Approve' submits and audits the bill in Kingdee and, for a "
            "loss, posts the suspense and write-off voucher at Kingdee's cost; 'Reject' deletes "
            "the saved bill. Nothing is audited before approval."
        ),
    ),
    # Issue 15, the watchdog: one ticket per flow and finding, closed when it no longer holds.
    "stuck_documents": (
        Role.OPERATOR,
        _("Documents stuck: {subject}"),
        _(
            "Open the documents listed below (trace). A document loading for long waits for a "
            "remote answer or a worker that stopped: once no worker holds it, the engine checks "
            "the target and goes on by itself. Otherwise check the workers, the flow and the "
            "remote system. The ticket closes itself when the documents move."
        ),
    ),
    "overdue_retries": (
        Role.OPERATOR,
        _("Retries overdue: {subject}"),
        _(
            "Nothing picked these documents up when their retry was due: check that beat and "
            "the workers run (README, Production) and that the flow is enabled."
        ),
    ),
    "stale_flow": (
        Role.OPERATOR,
        _("Flow not running: {subject}"),
        _(
            "The flow has had no successful run for three schedules. Read its last error on "
            "the board, check the connection and that beat and the workers run."
        ),
    ),
    "silent_processes": (
        Role.OPERATOR,
        _("Silent: {subject}"),
        _(
            "Start the process again (README, Production: exactly one beat, one or more "
            "workers) and read its log for why it stopped."
        ),
    ),
    # F6.1: the FX-difference voucher could not be posted.
    "fx_voucher": (
        Role.FINANCE,
        _("Exchange-difference voucher not posted: {subject}"),
        _("Read Kingdee's message below, fix the account or voucher settings, then post again."),
    ),
    # Issue 19 point 3: documents booked at a fallback exchange rate.
    "fx_fallback": (
        Role.FINANCE,
        _("Booked at the ECB cross rate: {subject}"),
        _(
            "Confirm or re-rate before period close: Finance › Fallback-rate bookings, "
            "action 'Confirm the fallback rate' or 'Re-rate at the official rate'."
        ),
    ),
}


def problem_for(error_class: str) -> tuple[str, str, str]:
    return PROBLEMS.get(error_class, PROBLEMS["internal"])
