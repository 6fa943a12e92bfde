"""/notifications/: the user's messages (the bell's list) and, for staff, the SMS sent to
workers in their scope. Adapters over accounts.services.notifications; reads start from
`Notification.objects.for_user`."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.choices import NotificationEvent
from accounts.models import Notification
from accounts.services import notifications as svc
from core.views import next_or


@login_required
def notification_list(request):
    user = request.user
    box = request.GET.get("box", "inbox")
    if box != "sms" or not (user.is_staff_role or user.sees_everything):
        box = "inbox"
    qs = svc.outbox_for_user(user, box=box)
    unread_only = box == "inbox" and request.GET.get("unread") == "1"
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    event = request.GET.get("event", "")
    if event in NotificationEvent.values:
        qs = qs.filter(event=event)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/notification_list.html",
        {
            "page": page,
            "box": box,
            "event": event,
            "events": NotificationEvent.choices,
            "unread_only": unread_only,
            "may_see_sms": user.is_staff_role or user.sees_everything,
        },
    )


@login_required
@require_POST
def notification_read(request, pk: int):
    """Mark one of the user's messages read; with open=1, go on to what it is about."""
    message = get_object_or_404(Notification.objects.inbox(request.user), pk=pk)
    svc.notifications_mark_read(user=request.user, ids=[message.pk])
    if request.POST.get("open") == "1" and message.link:
        return redirect(message.link)
    return redirect(next_or(request, reverse("notifications:list")))


@login_required
@require_POST
def notification_read_all(request):
    svc.notifications_mark_read(user=request.user)
    return redirect(next_or(request, reverse("notifications:list")))


@login_required
def notification_unread(request):
    """The bell's count, polled by static/js/notifications.js."""
    return JsonResponse({"unread": svc.unread_count(request.user)})
