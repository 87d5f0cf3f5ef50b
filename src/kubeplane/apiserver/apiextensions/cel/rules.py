"""Compilation of one schema node's ``x-kubernetes-validations``, cached by node identity.

A served CRD version keeps its schema dict for as long as it is served, so the dict's identity is
a sound cache key: each rule compiles once per schema, not once per request. The cache holds the
node itself beside the result, so an id reused after the schema is dropped can never match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import environment as env

JSON = dict[str, Any]

REASONS = ("FieldValueRequired", "FieldValueForbidden", "FieldValueInvalid", "FieldValueDuplicate")
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class CompiledRule:
    """One rule of a node, or the reason it cannot run."""

    source: JSON
    program: env.Program | None = None
    message_program: env.Program | None = None
    error: str = ""  # "compilation failed: ..." for the rule itself
    message_error: str = ""  # the same for messageExpression
    transition: bool = False
    optional_old_self: bool = False
    field_path: str = ""

    @property
    def rule(self) -> str:
        return str(self.source.get("rule") or "")

    @property
    def message(self) -> str:
        return str(self.source.get("message") or "").strip()

    @property
    def reason(self) -> str:
        return str(self.source.get("reason") or "")

    def error_string(self) -> str:
        """Upstream's ruleErrorString: the message when there is one, else the rule."""
        return self.message or self.rule.strip()


@dataclass
class _Cache:
    entries: dict[int, tuple[JSON, list[CompiledRule]]] = field(default_factory=dict)


_cache = _Cache()


def node_rules(node: JSON) -> list[JSON]:
    raw = node.get("x-kubernetes-validations")
    return [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def compiled_rules(node: JSON) -> list[CompiledRule]:
    """The node's rules compiled, from the cache when this very node was seen before."""
    hit = _cache.entries.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    compiled = [compile_rule(r) for r in node_rules(node)]
    if len(_cache.entries) >= _CACHE_LIMIT:
        _cache.entries.clear()  # crude, but a server serves far fewer rule-bearing nodes than this
    _cache.entries[id(node)] = (node, compiled)
    return compiled


def compile_rule(source: JSON) -> CompiledRule:
    rule = str(source.get("rule") or "")
    optional = bool(source.get("optionalOldSelf"))
    transition = env.uses_old_self(rule)
    program: env.Program | None = None
    error = ""
    if rule.strip():
        try:
            if optional and transition:
                program = env.compile_optional_old_self(rule)
            else:
                program = env.compile_expression(rule)
        except env.CompileError as exc:
            error = f"compilation failed: {exc}"
    message_program: env.Program | None = None
    message_error = ""
    message_expression = str(source.get("messageExpression") or "")
    if message_expression.strip():
        try:
            message_program = env.compile_expression(message_expression)
        except env.CompileError as exc:
            message_error = f"messageExpression compilation failed: {exc}"
    return CompiledRule(source=source, program=program, message_program=message_program, error=error,
                        message_error=message_error, transition=transition, optional_old_self=optional,
                        field_path=normalize_field_path(str(source.get("fieldPath") or "")))


_FIELD_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\['((?:[^'\\]|\\.)*)'\]")


def normalize_field_path(json_path: str) -> str:
    """``.spec.list['a.b']`` → ``spec.list[a.b]`` (upstream's field.Path rendering), "" if unparsable."""
    out = ""
    position = 0
    for match in _FIELD_PATH_TOKEN.finditer(json_path):
        if match.start() != position:
            return ""
        position = match.end()
        if match.group(1) is not None:
            out = f"{out}.{match.group(1)}" if out else match.group(1)
        else:
            out = f"{out}[{match.group(2)}]"
    return out if position == len(json_path) else ""
