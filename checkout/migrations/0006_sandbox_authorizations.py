from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('checkout', '0005_merge_0004_idempotency_effect_0004_modes'),
    ]

    operations = [
        migrations.RenameField(
            model_name='sandboxledgerentry',
            old_name='refund_of',
            new_name='parent',
        ),
        migrations.AddField(
            model_name='sandboxledgerentry',
            name='capture_failure_code',
            field=models.CharField(blank=True, max_length=50),
        ),
        migrations.AlterField(
            model_name='sandboxledgerentry',
            name='kind',
            field=models.CharField(choices=[('charge', 'Charge'), ('authorize', 'Authorization'), ('capture', 'Capture'), ('void', 'Void'), ('refund', 'Refund')], max_length=10),
        ),
    ]
