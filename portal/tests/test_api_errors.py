"""The one exception handler: domain errors become 400/409 with the Chinese message."""

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from core.errors import ConflictError, DomainError

pytestmark = pytest.mark.django_db


class Raiser(APIView):
    permission_classes = []
    error: Exception | None = None

    def get(self, request):
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [(DomainError("金额不能为负数"), 400, "invalid"), (ConflictError("批次已审批，不能修改"), 409, "conflict")],
)
def test_domain_errors_map_to_400_and_409(error, status, code):
    view = Raiser.as_view(error=error)
    response = view(APIRequestFactory().get("/x"))
    assert response.status_code == status
    assert response.data == {"detail": error.message, "code": code}
