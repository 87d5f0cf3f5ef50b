"""Image references as Docker normalises them: ``busybox:1.35`` is
``docker.io/library/busybox:1.35``, and the first path component is a registry host only when it
looks like one (has a dot or a port, or is ``localhost``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


class InvalidReference(ValueError):
    pass


@dataclass(frozen=True)
class ImageReference:
    host: str  # registry host[:port], e.g. docker.io, registry.kubeplane.local
    repository: str  # the path in that registry, e.g. library/busybox
    tag: str

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}:{self.tag}"


def parse_reference(reference: str) -> ImageReference:
    """Split a tagged reference (digests are not accepted: a pushed image needs a tag)."""
    if "@" in reference:
        raise InvalidReference(f"{reference!r}: references by digest cannot be built or pushed; use a tag")
    name, tag = reference, "latest"
    last_slash = reference.rfind("/")
    if reference.rfind(":") > last_slash:
        name, tag = reference.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not _REPOSITORY.match(path):
        raise InvalidReference(f"{reference!r}: invalid repository name {path!r}")
    if not _TAG.match(tag):
        raise InvalidReference(f"{reference!r}: invalid tag {tag!r}")
    return ImageReference(host, path, tag)
