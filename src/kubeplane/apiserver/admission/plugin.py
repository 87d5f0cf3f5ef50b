"""The two kinds of admission plugin (upstream's MutationInterface and ValidationInterface)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kubeplane.apiserver.admission.attributes import Attributes


@runtime_checkable
class MutatingPlugin(Protocol):
    name: str

    async def admit(self, attrs: Attributes) -> None:
        """May change ``attrs.object``; raises a StatusError to refuse the request."""
        ...


@runtime_checkable
class ValidatingPlugin(Protocol):
    name: str

    async def validate(self, attrs: Attributes) -> None:
        """Must not change the object; raises a StatusError to refuse the request."""
        ...


class Startable(Protocol):
    async def start(self) -> None: ...
