"""Serving one stored resource in several API versions, as upstream's storage codecs do.

A resource served in more than one version (autoscaling/v1 and v2 HorizontalPodAutoscalers) or
in two groups over one storage (core/v1 and events.k8s.io/v1 Events) is stored once, in its
storage version; each other version reads and writes it through a ``Conversion`` wrapped around
the storage (``ConvertingStorage``), so a change made in one version is seen in every other.
"""

from kubeplane.apiserver.registry.conversion.autoscaling import HPA_V1
from kubeplane.apiserver.registry.conversion.conversion import Conversion
from kubeplane.apiserver.registry.conversion.events import EVENTS_V1
from kubeplane.apiserver.registry.conversion.storage import ConvertingStorage

# (group, version, resource) served -> its conversion from and to the storage version.
CONVERSIONS: dict[tuple[str, str, str], Conversion] = {
    ("autoscaling", "v1", "horizontalpodautoscalers"): HPA_V1,
    ("events.k8s.io", "v1", "events"): EVENTS_V1,
}

__all__ = ["CONVERSIONS", "Conversion", "ConvertingStorage"]
