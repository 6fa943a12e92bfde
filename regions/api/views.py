from rest_framework import serializers, viewsets

from regions.models import Region
from regions.selectors import regions_q


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name", "level", "kind", "parent", "official_parent_code", "direct_report"]


class RegionViewSet(viewsets.ReadOnlyModelViewSet):
    """The region tree. Staff see their own subtree; `?parent=CODE` lists one level."""

    serializer_class = RegionSerializer
    lookup_field = "code"
    pagination_class = None  # about 200 rows: the whole tree in one answer
    filterset_fields = ["parent", "level", "kind"]

    def get_queryset(self):
        return Region.objects.filter(regions_q(self.request.user)).order_by("path")
