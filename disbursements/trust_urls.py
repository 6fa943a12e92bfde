"""Routes of public trust, included by portal/urls.py under three prefixes:
/gongshi/ (公示, public and the officers' side), /registry/signals/ and /registry/appeals/."""

from django.urls import path

from disbursements import appeal_views, publicity_views, signal_views

gongshi_patterns = (
    [
        path("", publicity_views.gongshi_index, name="index"),
        path("<int:pk>/", publicity_views.gongshi_detail, name="detail"),
        path("<int:pk>/gongshi.pdf", publicity_views.gongshi_pdf, name="pdf"),
        path("<int:pk>/gongshi.xlsx", publicity_views.gongshi_xlsx, name="xlsx"),
        path("<int:pk>/objection/", publicity_views.gongshi_object, name="object"),
        path("manage/", publicity_views.notice_manage_list, name="manage"),
        path("manage/publish/", publicity_views.notice_publish, name="publish"),
        path("manage/<int:pk>/", publicity_views.notice_manage_detail, name="manage_detail"),
        path("manage/<int:pk>/withdraw/", publicity_views.notice_withdraw, name="withdraw"),
        path("manage/objections/<int:pk>/resolve/", publicity_views.objection_resolve, name="objection_resolve"),
    ],
    "gongshi",
)

signal_patterns = (
    [
        path("", signal_views.signal_list, name="list"),
        path("<int:pk>/", signal_views.signal_detail, name="detail"),
        path("<int:pk>/<str:decision>/", signal_views.signal_decide, name="decide"),
    ],
    "signals",
)

appeal_patterns = (
    [
        path("", appeal_views.appeal_list, name="list"),
        path("new/", appeal_views.appeal_new, name="new"),
        path("<int:pk>/", appeal_views.appeal_detail, name="detail"),
        path("<int:pk>/resolve/", appeal_views.appeal_resolve, name="resolve"),
    ],
    "appeals",
)
