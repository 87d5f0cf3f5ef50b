"""Node images: OCI archives written in Python (the base images, ``kubeplane image build``), read
back (``archive``), imported into containerd, or pushed to the cluster's registry
(``kubeplane.registry``)."""

from kubeplane.kubelet.images.archive import ArchivedManifest, ArchiveError, OCIArchive
from kubeplane.kubelet.images.build import BuildError, BuildOptions, build_image, resolve_archive
from kubeplane.kubelet.images.builtin import (
    BUSYBOX_REFERENCE,
    PAUSE_REFERENCE,
    build_base_images,
    build_busybox,
    build_pause,
    default_build_dir,
)
from kubeplane.kubelet.images.importer import ImageImportError, ensure_imported, import_archive
from kubeplane.kubelet.images.oci import BaseLayers, ImageConfig, Layer, OCIImage, write_image
from kubeplane.kubelet.images.reference import ImageReference, InvalidReference, parse_reference

__all__ = [
    "BUSYBOX_REFERENCE",
    "PAUSE_REFERENCE",
    "ArchiveError",
    "ArchivedManifest",
    "BaseLayers",
    "BuildError",
    "BuildOptions",
    "ImageConfig",
    "ImageImportError",
    "ImageReference",
    "InvalidReference",
    "Layer",
    "OCIArchive",
    "OCIImage",
    "build_base_images",
    "build_busybox",
    "build_image",
    "build_pause",
    "default_build_dir",
    "ensure_imported",
    "import_archive",
    "parse_reference",
    "resolve_archive",
    "write_image",
]
