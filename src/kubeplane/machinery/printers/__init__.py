"""Server-side printing: ``meta.k8s.io/v1`` Tables for every built-in resource, as upstream prints them."""

from .duration import human_duration
from .table import INCLUDE_OBJECT_VALUES, has_printer, table

__all__ = ["INCLUDE_OBJECT_VALUES", "has_printer", "human_duration", "table"]
