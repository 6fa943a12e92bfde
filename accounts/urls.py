"""The routes of accounts: `urlpatterns` under /accounts/ (namespace "accounts") and
`notification_patterns` under /notifications/ (namespace "notifications"), both included
by portal/urls.py."""

from django.urls import path

from accounts.views import auth, jobs, notifications, users

app_name = "accounts"
urlpatterns = [
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("users/", users.user_list, name="user_list"),
    path("users/new/", users.user_create, name="user_create"),
    path("users/<int:pk>/", users.user_edit, name="user_edit"),
    path("users/<int:pk>/active/", users.user_active, name="user_active"),
    path("users/<int:pk>/password/", users.user_password, name="user_password"),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job_detail"),
    path("jobs/<int:pk>/status/", jobs.job_status, name="job_status"),
    path("jobs/<int:pk>/retry/", jobs.job_retry, name="job_retry"),
]

notification_patterns = (
    [
        path("", notifications.notification_list, name="list"),
        path("unread/", notifications.notification_unread, name="unread"),
        path("read-all/", notifications.notification_read_all, name="read_all"),
        path("<int:pk>/read/", notifications.notification_read, name="read"),
    ],
    "notifications",
)
