"""Reading OCI image-layout tars (what ``write_image``, ``ctr images export`` and
``skopeo copy oci-archive:`` write): the one image for this machine's platform, its manifest,
config and layers. Docker's media types are accepted beside OCI's; ``docker save``'s own layout
(``manifest.json`` without ``index.json``) is not."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from kubeplane.kubelet.images.oci import ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, host_architecture

INDEX_MEDIA_TYPES = frozenset({"application/vnd.oci.image.index.v1+json",
                               "application/vnd.docker.distribution.manifest.list.v2+json"})
MANIFEST_MEDIA_TYPES = frozenset({"application/vnd.oci.image.manifest.v1+json",
                                  "application/vnd.docker.distribution.manifest.v2+json"})


class ArchiveError(Exception):
    """The tar is not an OCI image layout holding an image for this platform."""


@dataclass(frozen=True)
class ArchivedManifest:
    reference: str | None  # the name the archive gives the image (containerd's annotation), if any
    media_type: str
    digest: str
    manifest: bytes
    config: bytes

    @property
    def document(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.manifest)
        return value

    @property
    def config_descriptor(self) -> dict[str, Any]:
        descriptor: dict[str, Any] = self.document["config"]
        return descriptor

    @property
    def layer_descriptors(self) -> list[dict[str, Any]]:
        return list(self.document.get("layers", []))


def _matches_host(descriptor: dict[str, Any]) -> bool:
    platform = descriptor.get("platform")
    return platform is None or (platform.get("os") == "linux"
                                and platform.get("architecture") == host_architecture())


class OCIArchive:
    """An open image-layout tar. Use as a context manager; blobs are read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed by close()/__exit__
        except (OSError, tarfile.TarError) as err:
            raise ArchiveError(f"{path}: not a readable tar ({err})") from err

    def __enter__(self) -> OCIArchive:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._tar.close()

    def _member(self, name: str) -> bytes:
        try:
            member = self._tar.extractfile(name.removeprefix("./"))
        except KeyError:
            member = None
        if member is None:
            raise ArchiveError(f"{self.path}: no {name} in the archive (not an OCI image layout?)")
        return member.read()

    def blob(self, digest: str) -> bytes:
        """The blob with this digest, checked against it (a damaged archive is never pushed)."""
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or not hexdigest:
            raise ArchiveError(f"{self.path}: unsupported digest {digest!r}")
        data = self._member(f"blobs/sha256/{hexdigest}")
        if hashlib.sha256(data).hexdigest() != hexdigest:
            raise ArchiveError(f"{self.path}: blob {digest} does not match its digest")
        return data

    def image(self) -> ArchivedManifest:
        """The archive's image for linux/<this architecture> (the first such if it holds several)."""
        index = json.loads(self._member("index.json"))
        for descriptor in index.get("manifests", []):
            annotations = descriptor.get("annotations") or {}
            # ref.name is often only the tag; a full name in it is used when containerd's is absent.
            ref_name = annotations.get(ANNOTATION_REF_NAME, "")
            reference = annotations.get(ANNOTATION_CONTAINERD_NAME) or (ref_name if "/" in ref_name else None)
            found = self._resolve(descriptor, reference)
            if found is not None:
                return found
        raise ArchiveError(f"{self.path}: no image for linux/{host_architecture()} in the archive")

    def _resolve(self, descriptor: dict[str, Any], reference: str | None) -> ArchivedManifest | None:
        media_type = descriptor.get("mediaType", "")
        if not _matches_host(descriptor):
            return None
        if media_type in INDEX_MEDIA_TYPES:
            nested = json.loads(self.blob(descriptor["digest"]))
            for child in nested.get("manifests", []):
                found = self._resolve(child, reference)
                if found is not None:
                    return found
            return None
        if media_type not in MANIFEST_MEDIA_TYPES:
            return None
        manifest = self.blob(descriptor["digest"])
        config = self.blob(json.loads(manifest)["config"]["digest"])
        return ArchivedManifest(reference, media_type, descriptor["digest"], manifest, config)
