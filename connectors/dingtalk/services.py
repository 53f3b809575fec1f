"""Writes of connectors.dingtalk: sending a message through a channel."""

from django.utils import timezone

from core.messages import gettext as _

from .client import RobotAnswer, RobotMessage, client_for
from .models import RobotChannel


def robot_channel_send(*, channel: RobotChannel, message: RobotMessage) -> RobotAnswer:
    """Post `message` through `channel` (raises the client's typed errors)."""
    return client_for(channel).send(message)


def robot_channel_send_test(*, channel: RobotChannel, user_name: str = "") -> RobotAnswer:
    """The admin's "send test message": proves the URL, secret and keyword are right."""
    now = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
    message = RobotMessage(
        title=_("Integration portal: test message"),
        markdown=_(
            "### Test message\n\nThe integration portal can post to this group.\n\n"
            "- Channel: %(name)s\n- Sent at: %(now)s\n- Sent by: %(user)s"
        )
        % {"name": channel.name, "now": now, "user": user_name or "-"},
        mobiles=tuple(channel.at_mobile_list),
        user_ids=tuple(channel.at_user_id_list),
        at_all=False,
    )
    return robot_channel_send(channel=channel, message=message)
