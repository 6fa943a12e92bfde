from rest_framework import generics
from rest_framework.response import Response

from accounts.selectors import job_as_dict, jobs_for_user


class JobDetailView(generics.GenericAPIView):
    """A job's state and progress: what the progress bar polls."""

    def get_queryset(self):
        return jobs_for_user(self.request.user)

    def get(self, request, pk: int):
        return Response(job_as_dict(self.get_object()))
