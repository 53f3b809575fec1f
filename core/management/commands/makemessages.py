"""`makemessages` with a merge-friendly catalogue: entries sorted by msgid and located by file
only (no line numbers), so two branches that add text to different modules touch different
lines of the .po and merge without conflicts."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--sort-output"]
    msguniq_options = [*makemessages.Command.msguniq_options, "--sort-output"]
    msgattrib_options = [*makemessages.Command.msgattrib_options, "--sort-output"]

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(add_location="file")
