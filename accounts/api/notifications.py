"""/api/v1/notifications/: the caller's messages (`?box=sms`: staff read the SMS sent to
workers in their scope), the unread count, and mark-as-read. Reads start from
`Notification.objects.for_user`; another user's message is not found (404)."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Notification
from accounts.services import notifications as svc


class NotificationSerializer(serializers.ModelSerializer):
    event_label = serializers.CharField(source="get_event_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    text = serializers.CharField(read_only=True, help_text="The message in the request's language.")

    class Meta:
        model = Notification
        fields = [
            "id",
            "event",
            "event_label",
            "channel",
            "status",
            "status_label",
            "text",
            "body",
            "link",
            "phone_masked",
            "region",
            "created_at",
            "sent_at",
            "read_at",
        ]
        read_only_fields = fields


class ReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=500)


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NotificationSerializer
    # Ids are numbers (`<int:pk>` routes): anything else is a plain 404.
    lookup_value_converter = "int"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Notification.objects.none()
        user = self.request.user
        box = self.request.query_params.get("box", "inbox")
        if self.action == "list":
            qs = svc.outbox_for_user(user, box="sms" if box == "sms" else "inbox")
            if self.request.query_params.get("unread") == "1":
                qs = qs.filter(read_at__isnull=True)
            return qs
        return Notification.objects.for_user(user)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "box", str, enum=["inbox", "sms"], description="inbox: mine; sms: sent to workers in scope"
            ),
            OpenApiParameter("unread", str, enum=["1"], description="only unread messages"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: {"type": "object", "properties": {"unread": {"type": "integer"}}}})
    @action(detail=False, methods=["get"])
    def unread(self, request):
        return Response({"unread": svc.unread_count(request.user)})

    @extend_schema(
        request=ReadSerializer, responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}}
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_many(self, request):
        """Mark the caller's messages read: the listed ids, or every unread one."""
        data = ReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data.get("ids")
        return Response({"marked": svc.notifications_mark_read(user=request.user, ids=ids)})

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        message = Notification.objects.inbox(request.user).filter(pk=pk).first()
        if message is None:
            raise Http404
        svc.notifications_mark_read(user=request.user, ids=[message.pk])
        message.refresh_from_db()
        return Response(NotificationSerializer(message).data)
