"""The Kubernetes minors kubeplane serves: build identity for ``/version`` and support dates.

Release and support dates follow the Amazon EKS release calendar (end of standard support is
14 months after EKS availability, end of extended support 26 months). Dates for minors that
EKS had not yet published when this table was written are estimates from the usual cadence and
carry ``dates_approximate=True`` so callers (DescribeClusterVersions) can say so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Every served build claims to be built by this project, not by upstream's release tooling.
_GIT_COMMIT = "0000000000000000000000000000000000000000"
_BUILD_DATE = "2026-01-01T00:00:00Z"
_PLATFORM = "linux/amd64"


@dataclass(frozen=True)
class Release:
    minor: str  # "1.35"
    patch: int  # latest patch we report for the minor
    go_version: str  # the Go toolchain upstream built that patch with
    upstream_release: dt.date
    end_of_standard_support: dt.date
    end_of_extended_support: dt.date
    dates_approximate: bool = False

    @property
    def git_version(self) -> str:
        return f"v{self.minor}.{self.patch}-kubeplane"


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


RELEASES: tuple[Release, ...] = (
    Release("1.29", 15, "go1.23.6", _d("2023-12-13"), _d("2025-03-23"), _d("2026-03-23")),
    Release("1.30", 14, "go1.23.10", _d("2024-04-17"), _d("2025-07-23"), _d("2026-07-23")),
    Release("1.31", 13, "go1.24.6", _d("2024-08-13"), _d("2025-11-26"), _d("2026-11-26")),
    Release("1.32", 9, "go1.24.6", _d("2024-12-11"), _d("2026-03-23"), _d("2027-03-23")),
    Release("1.33", 5, "go1.24.6", _d("2025-04-23"), _d("2026-07-29"), _d("2027-07-29")),
    Release("1.34", 1, "go1.24.6", _d("2025-08-27"), _d("2026-12-02"), _d("2027-12-02"), True),
    Release("1.35", 0, "go1.25.5", _d("2025-12-17"), _d("2027-03-27"), _d("2028-03-27"), True),
    Release("1.36", 0, "go1.25.7", _d("2026-04-22"), _d("2027-07-28"), _d("2028-07-28"), True),
    Release("1.37", 0, "go1.26.0", _d("2026-08-26"), _d("2027-11-24"), _d("2028-11-24"), True),
)

DEFAULT_VERSION = "1.35"

_BY_MINOR = {release.minor: release for release in RELEASES}


def versions() -> tuple[str, ...]:
    """Served minors, oldest first."""
    return tuple(release.minor for release in RELEASES)


def release(minor: str) -> Release:
    """The release record of a served minor; ValueError naming the served ones otherwise."""
    found = _BY_MINOR.get(minor)
    if found is None:
        raise ValueError(
            f"unsupported Kubernetes version {minor!r}; supported versions: {', '.join(versions())}"
        )
    return found


def version_info(minor: str, *, with_emulation: bool) -> dict[str, str]:
    """The ``/version`` body (``version.Info``) of a served minor.

    ``with_emulation`` adds the emulation/compatibility fields upstream reports since the
    compatibility-version work landed (decided by the caller from that minor's schema).
    """
    rel = release(minor)
    major, minor_number = rel.minor.split(".")
    info: dict[str, str] = {"major": major, "minor": minor_number}
    if with_emulation:
        # Without --emulated-version the server emulates itself; compatibility goes back one minor.
        info |= {
            "emulationMajor": major,
            "emulationMinor": minor_number,
            "minCompatibilityMajor": major,
            "minCompatibilityMinor": str(int(minor_number) - 1),
        }
    info |= {
        "gitVersion": rel.git_version,
        "gitCommit": _GIT_COMMIT,
        "gitTreeState": "clean",
        "buildDate": _BUILD_DATE,
        "goVersion": rel.go_version,
        "compiler": "gc",
        "platform": _PLATFORM,
    }
    return info
