"""factory_boy factories shared by the test suite (one section per app)."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role

TEST_PASSWORD = "a-long-test-password"


class UserFactory(factory.django.DjangoModelFactory):
    """A user with ``TEST_PASSWORD``; ``UserFactory(roles=[Role.ADMIN])`` adds role groups."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[Role] | None, **kwargs: object) -> None:
        if create and extracted:
            # Role groups come from the seeding migration; get_or_create keeps
            # factories usable in tests that flushed the database.
            self.groups.add(
                *(Group.objects.get_or_create(name=Role(r).value)[0] for r in extracted)
            )
            if Role.ADMIN in extracted:
                self.is_staff = True
                self.save(update_fields=["is_staff"])


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.LazyAttribute(lambda team: team.name.lower().replace(" ", "-"))
    description = "A team made by a factory."


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    """A bare membership row; use ``team_member_add`` when the test needs its permissions."""

    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    is_manager = False
