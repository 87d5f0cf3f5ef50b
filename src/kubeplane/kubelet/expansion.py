"""``$(VAR)`` expansion in env values, command and args, with upstream's rules.

``$(NAME)`` becomes NAME's value when NAME is defined and stays as written when it is not;
``$$`` is an escaped ``$`` (so ``$$(NAME)`` yields the literal ``$(NAME)``); a ``$`` before any
other character, or an unclosed ``$(``, is kept as is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

OPERATOR, OPENER, CLOSER = "$", "(", ")"


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """A lookup over ``contexts`` in order; undefined names map back to ``$(NAME)``."""
    def lookup(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"{OPERATOR}{OPENER}{name}{CLOSER}"
    return lookup


def _read_reference(rest: str) -> tuple[str, bool, int]:
    """What follows a ``$``: (text or variable name, is a variable, characters consumed)."""
    if rest[0] == OPERATOR:
        return OPERATOR, False, 1
    if rest[0] == OPENER:
        closer = rest.find(CLOSER, 1)
        if closer >= 0:
            return rest[1:closer], True, closer + 1
        return OPERATOR + OPENER, False, 1
    return OPERATOR + rest[0], False, 1


def expand(text: str, lookup: Callable[[str], str]) -> str:
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == OPERATOR and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_variable, advance = _read_reference(text[cursor + 1:])
            out.append(lookup(read) if is_variable else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def expand_all(items: Sequence[str], env: Mapping[str, str]) -> list[str]:
    lookup = mapping_for(env)
    return [expand(item, lookup) for item in items]
