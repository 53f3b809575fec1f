"""Typed errors of the group robots (DingTalk / Feishu / WeCom), on connectors.errors."""

from django.utils.translation import gettext_noop

from connectors.errors import AuthError, BusinessError


class RobotConfigurationError(AuthError):
    """The robot refused the channel's set-up: unknown token, signature mismatch, keyword
    missing, IP not allowed, or a webhook URL the portal will not call. Retrying does not
    help; a person must fix the channel."""

    default_message = gettext_noop(
        "The group robot rejected the channel's configuration (token, signature, keyword or "
        "IP allow-list). Check the webhook URL and secret in the robot channel."
    )


class RobotMessageRejected(BusinessError):
    """The robot refused this message (too long, malformed)."""

    default_message = gettext_noop("The group robot rejected the message.")
