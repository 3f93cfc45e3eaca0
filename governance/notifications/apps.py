from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "governance.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    # Nobody reads other people's notifications: every page and query is scoped to the
    # signed-in user, so no role holds a model-wide right here.
    role_permissions: dict = {}
