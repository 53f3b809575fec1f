"""`python -m integration_portal …` and the `integration-portal` command: manage.py for an
installed wheel, where there is no checkout (and so no manage.py)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integration_portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([os.path.basename(sys.argv[0]), *sys.argv[1:]])


if __name__ == "__main__":
    main()
