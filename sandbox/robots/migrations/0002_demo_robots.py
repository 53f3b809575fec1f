"""The demo robots of the sandbox (credentials in sandbox/robots/demo.py), reversible."""

from django.db import migrations

from sandbox.robots.demo import DEMO_ROBOTS


def create(apps, schema_editor):
    SandboxRobot = apps.get_model("sandbox_robots", "SandboxRobot")
    for robot in DEMO_ROBOTS:
        SandboxRobot.objects.get_or_create(token=robot["token"], defaults=robot)


def delete(apps, schema_editor):
    SandboxRobot = apps.get_model("sandbox_robots", "SandboxRobot")
    SandboxRobot.objects.filter(token__in=[r["token"] for r in DEMO_ROBOTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("sandbox_robots", "0001_robots_inbox")]

    operations = [migrations.RunPython(create, delete)]
