"""Fingerprints get a version: rows made before subkeys are version 1, new ones version 2."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("vault", "0003_used_jti")]

    operations = [
        migrations.AddField(
            model_name="token",
            name="fingerprint_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="token",
            name="fingerprint_version",
            field=models.PositiveSmallIntegerField(
                default=2,
                help_text="1: one KMS MAC per card; 2: HMAC under a per-merchant subkey.",
            ),
        ),
    ]
