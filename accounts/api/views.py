from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
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
