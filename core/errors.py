"""The root of every error tree in the portal: a message plus structured extra data."""

from typing import Any

from django.utils.translation import gettext_noop

from core.messages import gettext


class PortalError(Exception):
    """An error a person may read: `message` says what is wrong, `extra` carries the facts."""

    default_message = gettext_noop("Portal error")

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        # default_message is marked with gettext_noop; translated when the error is raised.
        self.message = message or gettext(self.default_message)
        self.extra = extra
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"message": str(self.message), "extra": self.extra}
