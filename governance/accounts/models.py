"""Users of Steward."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person who signs in to Steward; rights come from role groups and object permissions."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username
