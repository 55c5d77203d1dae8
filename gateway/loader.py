"""Bulk loading of Bundles and NDJSON through the same transaction path as the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from records import fhirjson
from records import interactions as fhir
from records.access import Principal, Repository
from records.errors import FHIRError

__all__ = ["load_paths"]

LOADER = Principal("bulk-loader", kind="system")


def _read(path: Path) -> tuple[bool, list[tuple[str, dict[str, Any]]]]:
    """(atomic, [(where, transaction entry)]) for a file.

    A transaction Bundle stays one atomic unit; NDJSON lines and the entries of
    other Bundles are loaded in batches, and a failing batch is split to name
    the culprit.
    """
    if path.suffix == ".ndjson":
        with path.open("rb") as fh:
            lines = [(f"{path.name}:{n}", line) for n, line in enumerate(fh, 1) if line.strip()]
        return False, [(where, _as_entry(fhirjson.loads(line))) for where, line in lines]
    data = fhirjson.loads(path.read_bytes())
    if data.get("resourceType") == "Bundle" and data.get("type") in ("transaction", "batch"):
        entries = data.get("entry") or []
        atomic = data.get("type") == "transaction"
        return atomic, [(f"{path.name}#entry[{i}]", e) for i, e in enumerate(entries)]
    if data.get("resourceType") == "Bundle":
        entries = data.get("entry") or []
        return False, [
            (f"{path.name}#entry[{i}]", _as_entry(e.get("resource") or {}))
            for i, e in enumerate(entries)
        ]
    return False, [(path.name, _as_entry(data))]


def _as_entry(resource: dict[str, Any]) -> dict[str, Any]:
    rtype, rid = resource.get("resourceType", ""), resource.get("id")
    if rid:
        return {"resource": resource, "request": {"method": "PUT", "url": f"{rtype}/{rid}"}}
    return {"resource": resource, "request": {"method": "POST", "url": rtype}}


def load_paths(
    ext: Any, paths: list[Path], *, batch: int = 100, quiet: bool = False
) -> dict[str, Any]:
    """Load every file through transaction Bundles; returns counts and error lines."""
    repo = Repository(ext.store, LOADER, ext.policy)
    ctx = fhir.Context("urn:accord:load", f"urn:accord:principal:{LOADER.subject}", "minimal")
    summary: dict[str, Any] = {"created": 0, "updated": 0, "failed": 0, "errors": []}
    units: list[tuple[bool, list[tuple[str, dict[str, Any]]]]] = []
    for path in paths:
        try:
            atomic, items = _read(path)
        except (ValueError, OSError, AttributeError) as exc:
            summary["failed"] += 1
            summary["errors"].append(f"{path.name}: cannot read: {exc}")
            continue
        if atomic:
            units.append((True, items))
        else:
            units += [(False, items[i : i + batch]) for i in range(0, len(items), batch)]
    with click.progressbar(
        length=sum(len(items) for _, items in units), label="loading", hidden=quiet
    ) as bar:
        for atomic, items in units:
            _load_unit(repo, ctx, items, atomic, summary)
            bar.update(len(items))
    return summary


def _load_unit(
    repo: Repository,
    ctx: fhir.Context,
    items: list[tuple[str, dict[str, Any]]],
    atomic: bool,
    summary: dict[str, Any],
) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [e for _, e in items]}
    try:
        out = fhir.process_bundle(repo, ctx, bundle)
    except FHIRError as exc:
        if atomic or len(items) == 1:
            summary["failed"] += len(items)
            where = items[0][0].split("#")[0] if atomic else items[0][0]
            summary["errors"].append(f"{where}: {exc}")
            return
        for item in items:
            _load_unit(repo, ctx, [item], False, summary)
        return
    for entry in orjson.loads(out.body or b"{}").get("entry", []):
        status = entry["response"]["status"]
        summary["created" if status.startswith("201") else "updated"] += 1
