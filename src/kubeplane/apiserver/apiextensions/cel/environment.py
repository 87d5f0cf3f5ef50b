"""The CEL environment rules compile in: ``self``, ``oldSelf`` and the Kubernetes extras we support.

The library is cel-expr-python (the cel-expr project's bindings of cel-cpp, a sibling of the
cel-go that Kubernetes uses), so parsing, macros (has/all/exists/exists_one/map/filter), string
functions, timestamps and durations, and error texts follow the CEL spec. Values are typed
dynamically (``dyn``): schema-typed declarations would need protobuf descriptors per CRD, so a
reference to an undeclared field is found at evaluation (``no such key``) rather than at compile
time. cel-cpp caps comprehension iterations per evaluation (10 000), which is what bounds the cost
of a hostile rule such as three nested ``all()`` over a long list.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

SELF, OLD_SELF = "self", "oldSelf"
# Set by the evaluator for optionalOldSelf rules: tells whether oldSelf holds a correlated value.
HAS_OLD_SELF = "kubeplaneHasOldSelf"

_STATUS_PREFIX = re.compile(r"^[A-Z_]+: ")
_STATUS_SUFFIX = re.compile(r" \[[A-Z_]+\]$")


class CompileError(Exception):
    """A rule that does not parse or type-check; ``str()`` is cel-go's ``issues.String()`` shape."""


@dataclass(frozen=True)
class Program:
    """One compiled expression, evaluated with plain JSON values bound to ``self``/``oldSelf``."""

    expression: Any

    def eval(self, bindings: dict[str, Any]) -> Any:
        """The value of the expression; raises ``EvaluationError`` for CEL runtime errors."""
        try:
            result = self.expression.eval(data=bindings)
        except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
            # RuntimeError carries CEL's own errors; the others come from converting odd JSON
            # (integers beyond int64) and must be a field error, never a server error.
            raise EvaluationError(clean_message(str(exc))) from None
        if result.type() == cel.Type.ERROR:
            raise EvaluationError(clean_message(str(result.value())))
        return result.plain_value()


class EvaluationError(Exception):
    """A CEL runtime error (no such key, no matching overload, division by zero, budget...)."""

    @property
    def budget_exceeded(self) -> bool:
        return "budget exceeded" in str(self).lower()

    @property
    def no_overload(self) -> bool:
        return "no matching overload" in str(self).lower()


def clean_message(text: str) -> str:
    """Drop cel-cpp's absl status code decorations (``INVALID_ARGUMENT: ... [INVALID_ARGUMENT]``)."""
    text = _STATUS_SUFFIX.sub("", text.strip())
    return _STATUS_PREFIX.sub("", text, count=1)


def _is_sorted(items: list[Any]) -> bool:
    try:
        return all(items[i] <= items[i + 1] for i in range(len(items) - 1))
    except TypeError:
        return False


def _kubernetes_functions() -> list[Any]:
    """The cheap part of Kubernetes' CEL libraries that cel-cpp's strings extension lacks."""
    return [
        cel.FunctionDecl("isSorted", [
            cel.Overload("kubeplane_list_is_sorted", return_type=cel.Type.BOOL,
                         parameters=[cel.Type.List(cel.Type.DYN)], is_member=True, impl=_is_sorted),
        ]),
    ]


@functools.cache
def environment() -> Any:
    """The one shared environment (building it costs a few milliseconds)."""
    return cel.NewEnv(
        variables={SELF: cel.Type.DYN, OLD_SELF: cel.Type.DYN, HAS_OLD_SELF: cel.Type.BOOL},
        extensions=[ext_strings.ExtStrings(), ext_bindings.ExtBindings(), ext_optional.ExtOptional()],
        functions=_kubernetes_functions(),
    )


def compile_expression(source: str) -> Program:
    try:
        return Program(environment().compile(source))
    except RuntimeError as exc:
        raise CompileError(clean_message(str(exc))) from None


def compile_optional_old_self(source: str) -> Program:
    """A rule with ``optionalOldSelf: true``: oldSelf is an optional, empty when nothing correlates.

    The rule is compiled as written first (so errors point into the author's text), then inside a
    ``cel.bind`` that rebinds ``oldSelf`` to ``optional.of(oldSelf)`` or ``optional.none()``.
    """
    compile_expression(source)
    wrapped = (f"cel.bind({OLD_SELF}, {HAS_OLD_SELF} ? optional.of({OLD_SELF}) : optional.none(), "
               f"({source}))")
    return compile_expression(wrapped)


_OLD_SELF_REFERENCE = re.compile(r"\boldSelf\b")
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def uses_old_self(source: str) -> bool:
    """Whether a rule is a transition rule (mentions ``oldSelf`` outside string literals)."""
    return bool(_OLD_SELF_REFERENCE.search(_STRING_LITERAL.sub("''", source)))
