"""The mappings error tree: what a flow catches to block a record or retry it later."""

from typing import Any

from django.utils.translation import gettext_noop

from core.errors import PortalError


class MappingError(PortalError):
    default_message = gettext_noop("A mapping problem stops this record.")


class MappingMissing(MappingError):
    """No mapping for a key, and the brief's 1:1 rule does not apply. The message says which
    mapping is missing and where a person adds it; `kind` and `key` let a flow open (or update)
    the ticket of that record."""

    default_message = gettext_noop("A mapping is missing.")

    def __init__(
        self,
        message: str | None = None,
        *,
        kind: str,
        key: Any,
        integration_id: int | None,
        where: str = "",
        reason: str = "",
        **extra: Any,
    ) -> None:
        super().__init__(
            message,
            kind=str(kind),
            key=str(key),
            integration_id=integration_id,
            where=where,
            reason=reason,
            **extra,
        )
        self.kind = str(kind)
        self.key = str(key)
        self.integration_id = integration_id
        self.where = where
        self.reason = reason


class RateUnavailable(PortalError):
    """No exchange rate for the date, and neither the primary nor the backup source gave one.
    Transient by nature: the flows retry it (F2.3: 5 minutes, 3 times), then open a ticket."""

    default_message = gettext_noop("No exchange rate is available yet.")
    retry_delay_seconds = 300
    max_retries = 3

    def __init__(
        self,
        message: str | None = None,
        *,
        currency: str,
        on_date: Any,
        rate_type: str,
        tried: list[str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            message,
            currency=currency,
            on_date=str(on_date),
            rate_type=str(rate_type),
            tried=tried or [],
            **extra,
        )
        self.currency = currency
        self.on_date = on_date
        self.rate_type = str(rate_type)
        self.tried = tried or []


class ImportNotConfirmable(MappingError):
    """Only a finished dry run without errors can be confirmed (imported for real)."""

    default_message = gettext_noop(
        "This preview cannot be imported: it has not finished or it found errors."
    )
