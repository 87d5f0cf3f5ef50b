"""The Kubernetes version catalog: which minors kubeplane serves, their build identity and
support dates, and each minor's API surface (resources, groups, preferred versions)."""

from kubeplane.catalog.catalog import DEFAULT_VERSION, APIGroupInfo, Catalog, version_info, versions
from kubeplane.catalog.releases import RELEASES, Release, release
from kubeplane.catalog.resources import ResourceInfo, SubresourceInfo, storage_version_hash

__all__ = [
    "DEFAULT_VERSION",
    "RELEASES",
    "APIGroupInfo",
    "Catalog",
    "Release",
    "ResourceInfo",
    "SubresourceInfo",
    "release",
    "storage_version_hash",
    "version_info",
    "versions",
]
