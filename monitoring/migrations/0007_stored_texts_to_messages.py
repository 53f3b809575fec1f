"""Issue 20 point 4: texts stored before messages kept their ids get their message id and
parameters where the text matches one message of the catalogue unambiguously (in English or
in Chinese, `core.messages.match`); the others stay as they are and are shown as stored."""

from django.db import migrations

from core.messages import match

BATCH = 2000

# model -> ((text field, data field), ...)
TEXTS = {
    "Event": (("message", "message_data"),),
    "ExceptionTicket": (
        ("title", "title_data"),
        ("message", "message_data"),
        ("suggested_fix", "fix_data"),
    ),
    "Alert": (("title", "title_data"), ("text", "text_data")),
}


def fill(model, pairs) -> int:
    """Fill the data fields of `model` from their texts; the number of rows changed."""
    changed = 0
    last = 0
    names = [name for pair in pairs for name in pair]
    while True:
        rows = list(model.objects.filter(pk__gt=last).order_by("pk").only("pk", *names)[:BATCH])
        if not rows:
            return changed
        last = rows[-1].pk
        updated = []
        for row in rows:
            touched = False
            for text_field, data_field in pairs:
                if getattr(row, data_field) is None and getattr(row, text_field):
                    data = match(getattr(row, text_field))
                    if data is not None:
                        setattr(row, data_field, data)
                        touched = True
            if touched:
                updated.append(row)
        if updated:
            model.objects.bulk_update(updated, [data for _text, data in pairs])
            changed += len(updated)


def forwards(apps, schema_editor) -> None:
    for name, pairs in TEXTS.items():
        fill(apps.get_model("monitoring", name), pairs)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0006_message_data"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
