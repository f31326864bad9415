from django.urls import path

from accounts import second_factor, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("center/", views.switch_center, name="switch_center"),
    path("reauth/", views.reauth, name="reauth"),
    path("second-factor/", second_factor.otp_verify, name="otp_verify"),
    path("second-factor/setup/", second_factor.otp_setup, name="otp_setup"),
    path("access-review/", views.access_review, name="access_review"),
    path("access-review/unlock/", views.unlock, name="unlock"),
    path("access-review/<int:user_id>/deactivate/", views.deactivate, name="deactivate"),
]
