"""/api/v1/employers/ and /api/v1/workers/: scoped (out of scope is 404), masked,
writes through the services."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from beneficiaries.api.filters import EmployerFilter, WorkerFilter
from beneficiaries.api.serializers import (
    EMPLOYER_VALUES,
    WORKER_VALUES,
    EmployerCreateSerializer,
    EmployerRowSerializer,
    EmployerUpdateSerializer,
    ReasonSerializer,
    ResolveSerializer,
    WorkerCreateSerializer,
    WorkerRowSerializer,
    WorkerUpdateSerializer,
)
from beneficiaries.models import Employer, Registration
from beneficiaries.services import employers as employer_services
from beneficiaries.services import registrations as registration_services


class _ValuesViewSet(viewsets.GenericViewSet):
    """List and detail read `.values()` rows of the scoped, filtered queryset."""

    values: tuple = ()
    # Ids are numbers (`<int:pk>` routes): anything else matches no route and is a plain
    # 404, never a ValueError from the query (a 500); the schema says integer.
    lookup_value_converter = "int"

    def _row(self, pk) -> dict:
        row = self.get_queryset().filter(pk=pk).values(*self.values).first()
        if row is None:
            raise Http404
        return row

    def list(self, request):
        qs = self.filter_queryset(self.get_queryset()).values(*self.values)
        page = self.paginate_queryset(qs)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self._row(pk)).data)

    def _scoped(self, pk):
        """The instance for a write: 404 when missing or out of scope."""
        obj = self.get_queryset().filter(pk=pk).first()
        if obj is None:
            raise Http404
        return obj


class EmployerViewSet(_ValuesViewSet, mixins.ListModelMixin):
    """Employers in the user's scope. Agents register theirs (POST) and correct them
    (PATCH); the district officer verifies or returns them."""

    serializer_class = EmployerRowSerializer
    filterset_class = EmployerFilter
    values = EMPLOYER_VALUES

    def get_queryset(self):
        return Employer.objects.for_user(self.request.user)

    @extend_schema(request=EmployerCreateSerializer, responses={201: EmployerRowSerializer})
    def create(self, request):
        data = EmployerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        employer = employer_services.employer_register(acting_user=request.user, **data.validated_data)
        return Response(EmployerRowSerializer(self._row(employer.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EmployerUpdateSerializer, responses=EmployerRowSerializer)
    def partial_update(self, request, pk=None):
        employer = self._scoped(pk)
        data = EmployerUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        employer_services.employer_update(employer=employer, acting_user=request.user, **data.validated_data)
        # An officer who moved the employer to another district no longer has it in scope;
        # the answer still shows what they just did (this one row, nothing else).
        row = Employer.objects.filter(pk=employer.pk).values(*self.values).get()
        return Response(EmployerRowSerializer(row).data)

    @extend_schema(request=EmployerUpdateSerializer, responses=EmployerRowSerializer)
    def update(self, request, pk=None):
        return self.partial_update(request, pk)

    @extend_schema(request=None, responses=EmployerRowSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        employer_services.employer_verify(employer=self._scoped(pk), acting_user=request.user)
        return Response(EmployerRowSerializer(self._row(pk)).data)

    @extend_schema(request=ReasonSerializer, responses=EmployerRowSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        employer = self._scoped(pk)  # scope before the body: out of scope is 404 whatever it says
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        employer_services.employer_return(employer=employer, acting_user=request.user, **data.validated_data)
        return Response(EmployerRowSerializer(self._row(pk)).data)


class WorkerViewSet(_ValuesViewSet):
    """Stay-behind registrations in the user's scope. ID and account numbers only masked."""

    serializer_class = WorkerRowSerializer
    filterset_class = WorkerFilter
    values = WORKER_VALUES

    def get_queryset(self):
        return Registration.objects.for_user(self.request.user)

    @extend_schema(request=WorkerCreateSerializer, responses={201: WorkerRowSerializer})
    def create(self, request):
        data = WorkerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        employer = Employer.objects.for_user(request.user).filter(pk=fields.pop("employer")).first()
        if employer is None:
            return Response({"employer": ["单位不存在或不在您的管辖范围内。"]}, status=status.HTTP_400_BAD_REQUEST)
        registration = registration_services.registration_create(acting_user=request.user, employer=employer, **fields)
        return Response(WorkerRowSerializer(self._row(registration.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WorkerUpdateSerializer, responses=WorkerRowSerializer)
    def partial_update(self, request, pk=None):
        registration = self._scoped(pk)
        data = WorkerUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        registration_services.registration_update(
            registration=registration, acting_user=request.user, **data.validated_data
        )
        return Response(WorkerRowSerializer(self._row(pk)).data)

    @extend_schema(request=WorkerUpdateSerializer, responses=WorkerRowSerializer)
    def update(self, request, pk=None):
        return self.partial_update(request, pk)

    @extend_schema(request=ResolveSerializer, responses=WorkerRowSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Keep this registration active; reject the competing ones."""
        # Scope first: out of scope is 404 whatever the body says.
        keep = self._scoped(pk)
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration_services.registration_resolve_conflict(keep=keep, acting_user=request.user, **data.validated_data)
        return Response(WorkerRowSerializer(self._row(pk)).data)

    @extend_schema(request=ReasonSerializer, responses=WorkerRowSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        registration_services.registration_withdraw(
            registration=self._scoped(pk), acting_user=request.user, reason=request.data.get("reason", "")
        )
        return Response(WorkerRowSerializer(self._row(pk)).data)
