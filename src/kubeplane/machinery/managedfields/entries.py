"""``metadata.managedFields`` entries: decoding, identity, ordering, the update-entry cap, and the
checks upstream applies to entries and manager names.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kubeplane.machinery.errors import Cause
from kubeplane.machinery.managedfields.fieldset import FieldSet, FieldsV1Error
from kubeplane.machinery.validation.field import go_value

JSON = dict[str, Any]

UPDATE = "Update"
APPLY = "Apply"
FIELDS_V1 = "FieldsV1"
MAX_UPDATE_ENTRIES = 10  # upstream DefaultMaxUpdateManagers
ANCIENT_CHANGES = "ancient-changes"
FIELD_MANAGER_MAX_LENGTH = 128


@dataclass(frozen=True)
class Entry:
    """One managedFields entry with its field set decoded."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet
    # The wire dict this entry was decoded from, reused when nothing about the entry changed.
    source: JSON | None = None

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers keep one entry whatever version they apply (upstream BuildManagerIdentifier).
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def with_fields(self, fields: FieldSet) -> Entry:
        return replace(self, fields=fields, source=None) if fields is not self.fields else self

    def to_dict(self) -> JSON:
        if self.source is not None:
            return self.source
        out: JSON = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = FIELDS_V1
        out["fieldsV1"] = self.fields.to_fields_v1()
        if self.subresource:
            out["subresource"] = self.subresource
        return out


class ManagedFieldsError(ValueError):
    """managedFields that cannot be decoded."""


def is_reset(entries: Any) -> bool:
    """Whether a client asks to drop tracking: an empty list, or a list holding one empty entry."""
    return isinstance(entries, list) and (not entries or (len(entries) == 1 and entries[0] == {}))


def decode(entries: Any, *, trusted: bool = False) -> list[Entry]:
    """Decode wire entries (upstream DecodeManagedFields); raises ManagedFieldsError."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ManagedFieldsError("managedFields must be a list")
    out: list[Entry] = []
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise ManagedFieldsError(f"managed fields entry {i} must be an object")
        operation = raw.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = raw.get("apiVersion")
        if not api_version or not isinstance(api_version, str):
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = raw.get("fieldsType")
        if not fields_type:
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != FIELDS_V1:
            raise ManagedFieldsError(f'invalid fieldsType "{fields_type}" in managed fields entry {i}')
        try:
            fields = FieldSet.from_fields_v1(raw.get("fieldsV1") or {}, trusted=trusted)
        except FieldsV1Error as exc:
            raise ManagedFieldsError(f"error decoding set: {exc}") from None
        time = raw.get("time")
        out.append(Entry(
            manager=str(raw.get("manager") or ""), operation=operation, api_version=api_version,
            subresource=str(raw.get("subresource") or ""), time=time if isinstance(time, str) else None,
            fields=fields, source=raw if trusted else None,
        ))
    # Later entries with the same identity win, as when upstream fills its map.
    return list({e.identity: e for e in out}.values())


def _seconds(time: str | None) -> float:
    if not time:
        return 0.0
    try:
        return datetime.fromisoformat(time).timestamp()
    except ValueError:
        return 0.0


def sort_entries(entries: list[Entry]) -> list[Entry]:
    """Upstream's order: operation, time (seconds), manager, apiVersion, subresource."""
    return sorted(entries, key=lambda e: (e.operation, _seconds(e.time), e.manager, e.api_version, e.subresource))


def cap_update_entries(entries: list[Entry], limit: int = MAX_UPDATE_ENTRIES) -> list[Entry]:
    """Merge the oldest Update entries into per-version "ancient-changes" entries until at most
    ``limit`` remain (upstream capManagersManager)."""
    updaters = [e for e in entries if e.operation == UPDATE]
    if len(updaters) <= limit:
        return entries
    updaters.sort(key=lambda e: (int(_seconds(e.time)), _identity_json(e)))
    by_identity = {e.identity: e for e in entries}
    first_of_version: dict[str, Entry] = {}
    count = len(updaters)
    for entry in updaters:
        if count <= limit:
            break
        bucket_id = (ANCIENT_CHANGES, UPDATE, entry.api_version, "")
        first = first_of_version.get(entry.api_version)
        if first is None:
            first_of_version[entry.api_version] = entry
            continue
        bucket = by_identity.get(bucket_id)
        if bucket is None:
            # The first entry of this version becomes the bucket.
            del by_identity[first.identity]
            bucket = Entry(ANCIENT_CHANGES, UPDATE, entry.api_version, "", first.time, first.fields)
        del by_identity[entry.identity]
        by_identity[bucket_id] = Entry(ANCIENT_CHANGES, UPDATE, entry.api_version, "", entry.time,
                                       entry.fields.union(bucket.fields))
        count -= 1
    return list(by_identity.values())


def _identity_json(entry: Entry) -> str:
    # Upstream breaks time ties by its identity string, the JSON of manager/operation/apiVersion/...
    manager, operation, version, subresource = entry.identity
    parts = [f'"manager":"{manager}"', f'"operation":"{operation}"']
    if version:
        parts.append(f'"apiVersion":"{version}"')
    if subresource:
        parts.append(f'"subresource":"{subresource}"')
    return "{" + ",".join(parts) + "}"


_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# (whole second of the clock, its text): every write stamps "now", and a second holds many writes.
_now_text: tuple[int, str] = (-1, "")


def format_time(moment: datetime | None = None) -> str:
    """RFC 3339 with whole seconds in UTC, as metav1.Time serialises."""
    if moment is not None:
        return moment.astimezone(UTC).strftime(_TIME_FORMAT)
    global _now_text
    second = int(time.time())  # the same clock as datetime.now, truncated as the format truncates
    if _now_text[0] != second:
        _now_text = (second, datetime.fromtimestamp(second, UTC).strftime(_TIME_FORMAT))
    return _now_text[1]


@functools.lru_cache(maxsize=256)  # a server sees few distinct User-Agents; the result is pure
def manager_from_user_agent(user_agent: str) -> str:
    """Upstream prefixFromUserAgent: the part before the first "/", printable characters only,
    cut to the field-manager length limit."""
    out = []
    size = 0
    for char in user_agent.split("/", 1)[0]:
        if not char.isprintable():
            continue
        width = len(char.encode())
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(char)
        size += width
    return "".join(out)


def request_manager(field_manager: str | None, user_agent: str) -> str:
    """The manager of a non-apply write: ``?fieldManager=`` when given, else from the User-Agent."""
    return field_manager if field_manager else manager_from_user_agent(user_agent)


def field_manager_errors(manager: str, field: str = "fieldManager") -> list[Cause]:
    """Upstream ValidateFieldManager: at most 128 bytes, printable characters only."""
    causes: list[Cause] = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(Cause("FieldValueTooLong", f"Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes",
                            field))
    position = 0
    for char in manager:
        if not char.isprintable():
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {go_value(manager)}: invalid character "
                                                     f"U+{ord(char):04X} (at position {position})", field))
        position += len(char.encode())  # Go ranges over a string by bytes: positions are byte offsets
    return causes


def managed_fields_errors(entries: Any, field: str = "metadata.managedFields") -> list[Cause]:
    """Upstream ValidateManagedFields (ObjectMeta validation of stored entries)."""
    if not isinstance(entries, list):
        return []
    causes: list[Cause] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            causes.append(Cause("FieldValueInvalid", "Invalid value: must be an object", f"{field}[{i}]"))
            continue
        operation = entry.get("operation", "")
        if operation not in (APPLY, UPDATE):
            causes.append(Cause("FieldValueInvalid", f'Invalid value: "{operation}": must be `Apply` or `Update`',
                                f"{field}[{i}].operation"))
        fields_type = entry.get("fieldsType") or ""
        if fields_type and fields_type != FIELDS_V1:
            causes.append(Cause("FieldValueInvalid", f'Invalid value: "{fields_type}": must be `FieldsV1`',
                                f"{field}[{i}].fieldsType"))
        causes.extend(field_manager_errors(str(entry.get("manager") or ""), f"{field}[{i}].manager"))
        subresource = str(entry.get("subresource") or "")
        if len(subresource) > 256:
            causes.append(Cause("FieldValueTooLong", "Too long: may not be more than 256 bytes",
                                f"{field}[{i}].subresource"))
    return causes
