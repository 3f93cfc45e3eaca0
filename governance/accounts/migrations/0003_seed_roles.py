"""Seed the five role groups with their model permissions (idempotent)."""

from django.db import migrations


def seed_roles(apps, schema_editor):
    from governance.accounts.role_sync import ensure_permissions, roles_sync

    using = schema_editor.connection.alias
    ensure_permissions(apps=apps, using=using)
    roles_sync(apps=apps, using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_team"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
