from django.contrib.auth import views as auth_views
from django.urls import path

from governance.accounts import mfa_views, views

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    # Django's LogoutView answers POST only (GET is 405), behind the CSRF check.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("mfa/verify/", mfa_views.verify, name="mfa-verify"),
    path("mfa/enrol/", mfa_views.enrol, name="mfa-enrol"),
    path("mfa/recovery-codes/", mfa_views.recovery_codes, name="mfa-recovery-codes"),
    path("mfa/remove/", mfa_views.remove, name="mfa-remove"),
    path("people/mfa-reset/", mfa_views.reset, name="mfa-reset"),
    path("profile/", views.profile, name="profile"),
    path("people/", views.people, name="people"),
    path("people/roles/", views.roles_set, name="roles-set"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/<slug:slug>/", views.team_detail, name="team"),
    path("teams/<slug:slug>/members/add/", views.team_member_add, name="team-member-add"),
    path("teams/<slug:slug>/members/remove/", views.team_member_remove, name="team-member-remove"),
]
