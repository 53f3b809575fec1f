"""Create the demo admin and one demo user per role (idempotent; passwords reset)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from core.roles import Role

DEMO_ADMIN = ("admin", "admin-demo-2026")
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - demo only, printed and in the README
DEMO_USERS = {
    Role.MASTER_DATA_ADMIN: "mdm",
    Role.FINANCE: "finance",
    Role.PURCHASING: "purchasing",
    Role.MANAGER: "manager",
    Role.OPERATOR: "operator",
}


class Command(BaseCommand):
    help = "Create the demo admin and one staff user per role, and print their credentials."

    def handle(self, *args, **options):
        User = get_user_model()
        admin_name, admin_password = DEMO_ADMIN
        admin, _ = User.objects.get_or_create(username=admin_name)
        admin.is_staff = admin.is_superuser = True
        admin.set_password(admin_password)
        admin.save()
        rows = [(admin_name, admin_password, "superuser")]
        for role, username in DEMO_USERS.items():
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = True
            user.is_superuser = False
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            rows.append((username, DEMO_PASSWORD, str(role.label)))
        self.stdout.write("Demo users (http://127.0.0.1:8000/admin/):")
        for username, password, role in rows:
            self.stdout.write(f"  {username:<12} {password:<18} {role}")
