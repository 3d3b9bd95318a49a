from django.db import migrations, models


def backfill(apps, schema_editor):
    # Answers made final before this field existed closed their loop then.
    Survey = apps.get_model("saleor_support_plugin", "Survey")
    Survey.objects.filter(submitted_at__isnull=False).update(
        loop_closed_at=models.F("submitted_at")
    )


class Migration(migrations.Migration):
    dependencies = [("saleor_support_plugin", "0013_statistics")]

    operations = [
        migrations.AddField(
            model_name="survey",
            name="loop_closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
