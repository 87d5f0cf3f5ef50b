"""admissionregistration.k8s.io and flowcontrol.apiserver.k8s.io printers."""

from __future__ import annotations

from typing import Any

from .cells import JSON, NONE, UNSET, count, dig, items, mapping, name_of, selector_string, text
from .columns import AGE, NAME, Doc, integer, string
from .duration import Ages
from .printer import Cells, Printer, Printers

_WEBHOOKS = integer("Webhooks", "Webhooks indicates the number of webhooks registered in this configuration")
_PARAM_KIND = string(
    "ParamKind", "ParamKind specifies the kind of resources used to parameterize this policy"
)
_POLICY_NAME = string(
    "PolicyName", "PolicyName indicates the policy definition which the policy binding binded to"
)
_PARAM_REF = string("ParamRef", "ParamRef indicates the param resource which sets the configration param")


def _webhooks(obj: JSON, ages: Ages) -> list[Any]:
    return [name_of(obj), len(items(obj, "webhooks")), ages.of(obj)]


def _param_kind(obj: JSON) -> str:
    kind = dig(obj, "spec", "paramKind")
    if not isinstance(kind, dict):
        return UNSET
    return f"{text(kind, 'apiVersion')}/{text(kind, 'kind')}"


def _policy_cells(rules_field: str) -> Cells:
    def cells(obj: JSON, ages: Ages) -> list[Any]:
        return [name_of(obj), len(items(obj, "spec", rules_field)), _param_kind(obj), ages.of(obj)]

    return cells


def _param_ref(obj: JSON) -> str:
    reference = dig(obj, "spec", "paramRef")
    if not isinstance(reference, dict):
        return UNSET
    if text(reference, "name"):
        # Without a namespace the param may be cluster-scoped or in any namespace: upstream says "*".
        return f"{text(reference, 'namespace') or '*'}/{text(reference, 'name')}"
    if isinstance(reference.get("selector"), dict):
        return selector_string(mapping(reference, "selector"))
    return UNSET


def _binding(obj: JSON, ages: Ages) -> list[Any]:
    return [name_of(obj), text(obj, "spec", "policyName"), _param_ref(obj), ages.of(obj)]


def _flow_schema(obj: JSON, ages: Ages) -> list[Any]:
    dangling = next(
        (text(c, "status") for c in items(obj, "status", "conditions") if c.get("type") == "Dangling"), "?"
    )
    return [
        name_of(obj),
        text(obj, "spec", "priorityLevelConfiguration", "name"),
        count(obj, "spec", "matchingPrecedence"),
        text(obj, "spec", "distinguisherMethod", "type") or NONE,
        ages.of(obj),
        dangling,
    ]


def _flow_schema_order(obj: JSON) -> tuple[int, str]:
    # FlowSchemaSequence: by matching precedence, then by name.
    return count(obj, "spec", "matchingPrecedence"), name_of(obj)


def _priority_level(obj: JSON, ages: Ages) -> list[Any]:
    limited = dig(obj, "spec", "limited")
    shares: Any = NONE
    queues: Any = NONE
    hand_size: Any = NONE
    queue_length: Any = NONE
    if isinstance(limited, dict):
        shares = count(limited, "nominalConcurrencyShares")
        queuing = dig(limited, "limitResponse", "queuing")
        if isinstance(queuing, dict):
            queues = count(queuing, "queues")
            hand_size = count(queuing, "handSize")
            queue_length = count(queuing, "queueLengthLimit")
    return [name_of(obj), text(obj, "spec", "type"), shares, queues, hand_size, queue_length, ages.of(obj)]


_FLOWCONTROL = "flowcontrol.v1."

PRINTERS: Printers = {
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): Printer(
        (NAME, _WEBHOOKS, AGE), _webhooks
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): Printer(
        (NAME, _WEBHOOKS, AGE), _webhooks
    ),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): Printer(
        (
            NAME,
            integer(
                "Validations",
                "Validations indicates the number of validation rules defined in this configuration",
            ),
            _PARAM_KIND,
            AGE,
        ),
        _policy_cells("validations"),
    ),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies"): Printer(
        (
            NAME,
            integer(
                "Mutations", "Mutation indicates the number of mutations rules defined in this configuration"
            ),
            _PARAM_KIND,
            AGE,
        ),
        _policy_cells("mutations"),
    ),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): Printer(
        (NAME, _POLICY_NAME, _PARAM_REF, AGE), _binding
    ),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"): Printer(
        (NAME, _POLICY_NAME, _PARAM_REF, AGE), _binding
    ),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): Printer(
        (
            NAME,
            string("PriorityLevel", Doc(_FLOWCONTROL + "PriorityLevelConfigurationReference", "name")),
            string("MatchingPrecedence", Doc(_FLOWCONTROL + "FlowSchemaSpec", "matchingPrecedence")),
            string("DistinguisherMethod", Doc(_FLOWCONTROL + "FlowSchemaSpec", "distinguisherMethod")),
            AGE,
            string("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
        ),
        _flow_schema,
        order=_flow_schema_order,
    ),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): Printer(
        (
            NAME,
            string("Type", Doc(_FLOWCONTROL + "PriorityLevelConfigurationSpec", "type")),
            string(
                "NominalConcurrencyShares",
                Doc(_FLOWCONTROL + "LimitedPriorityLevelConfiguration", "nominalConcurrencyShares"),
            ),
            string("Queues", Doc(_FLOWCONTROL + "QueuingConfiguration", "queues")),
            string("HandSize", Doc(_FLOWCONTROL + "QueuingConfiguration", "handSize")),
            string("QueueLengthLimit", Doc(_FLOWCONTROL + "QueuingConfiguration", "queueLengthLimit")),
            AGE,
        ),
        _priority_level,
    ),
}
