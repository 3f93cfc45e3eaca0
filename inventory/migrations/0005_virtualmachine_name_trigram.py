"""A trigram index for the VM name search (``name__icontains``), on PostgreSQL only.

Django compiles ``icontains`` to ``UPPER(name::text) LIKE UPPER('%...%')`` on
PostgreSQL, which no B-tree can serve; a GIN ``gin_trgm_ops`` index on the same
expression can. SQLite keeps its plain LIKE scan (it has no trigram indexes), so the
index is not declared in the model's ``Meta`` and this migration does nothing there.
"""

from django.db import migrations

INDEX = "inventory_vm_name_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON inventory_virtualmachine "
        "USING gin (UPPER(name::text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0004_residency_storage_move")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
