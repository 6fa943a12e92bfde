from django.contrib.auth import authenticate
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.selectors import job_as_dict, jobs_for_user


class JobSerializer(serializers.Serializer):
    """The shape of `accounts.selectors.job_as_dict` (documented for the schema)."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    state = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    state_label = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    message = serializers.CharField()
    errors = serializers.ListField()
    result = serializers.DictField()
    result_file = serializers.CharField(allow_null=True)
    finished = serializers.BooleanField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class JobDetailView(generics.GenericAPIView):
    """A job's state and progress: what the progress bar polls."""

    serializer_class = JobSerializer

    def get_queryset(self):
        return jobs_for_user(self.request.user)

    @extend_schema(responses=JobSerializer)
    def get(self, request, pk: int):
        return Response(job_as_dict(self.get_object()))


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    expiry = serializers.DateTimeField(help_text="The token stops working at this time.")


class TokenCreateView(KnoxLoginView):
    """An expiring API token for a client, from a username and password.

    The password goes through `authenticate` with the Django request, so django-axes
    counts failures and locks the account exactly as the login page does. The token is
    stored only as a hash (django-rest-knox) and expires after API_TOKEN_TTL_HOURS."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer}, summary="取得API令牌（会过期）")
    def post(self, request, format=None):
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(request._request, **body.validated_data)
        if user is None or not user.is_active:
            return Response(
                {"detail": gettext("用户名或密码不正确（连续输错多次会暂时锁定账号）。"), "code": "invalid_login"},
                status=400,
            )
        request.user = user
        response = super().post(request, format)
        return Response({"token": response.data["token"], "expiry": response.data["expiry"]})


class TokenLogoutView(KnoxLogoutView):
    """Revoke the token this request carries."""

    @extend_schema(request=None, responses={204: None}, summary="注销当前API令牌")
    def post(self, request, format=None):
        return super().post(request, format)


class TokenLogoutAllView(KnoxLogoutAllView):
    """Revoke every token of this user (a lost laptop, a leaked script)."""

    @extend_schema(request=None, responses={204: None}, summary="注销本人全部API令牌")
    def post(self, request, format=None):
        return super().post(request, format)
