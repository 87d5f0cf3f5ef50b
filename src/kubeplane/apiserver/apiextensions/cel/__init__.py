"""CEL validation rules of CRD schemas (``x-kubernetes-validations``), as upstream apiextensions.

``environment`` wraps the CEL library (cel-expr-python, Google's bindings of cel-cpp),
``rules`` compiles a schema node's rules once, ``validator`` evaluates them over a custom object
(and its old version for transition rules), ``crd_rules`` reports rules that do not compile when a
CRD is created or updated.
"""

from .crd_rules import validate_schema_rules
from .validator import validate_object

__all__ = ["validate_object", "validate_schema_rules"]
