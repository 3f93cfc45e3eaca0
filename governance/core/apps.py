from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "governance.core"
    label = "core"
    verbose_name = "Steward core"

    def ready(self) -> None:
        from governance.core import signals  # noqa: F401  (connects the receivers)
