"""`kustomize build` for the subset of kustomize that deploy/kubernetes uses, so CI renders it offline.

Supported: `resources` (files and directories), `components`, `configMapGenerator` (`files`, with
`disableNameSuffixHash: true`), and `patches` (strategic merge or JSON 6902, from `path`, with a
`target` of `kind` and optional `name`). Anything else raises, so a manifest that starts to use a
feature this renderer does not implement fails loudly instead of rendering something else.
Strategic merge follows the Kubernetes merge keys of the fields the manifests use.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

_KEYS = {"apiVersion", "kind", "resources", "components", "configMapGenerator", "patches"}
# patchMergeKey of the associative lists in a pod template (k8s.io/api/core/v1 types.go).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
}


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(root: Path) -> list[Resource]:
    """Render the kustomization in `root` to its list of resources."""
    return _accumulate(root, [], expect_kind="Kustomization")


def _accumulate(root: Path, resources: list[Resource], expect_kind: str) -> list[Resource]:
    kust = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(kust) - _KEYS
    if unknown:
        raise NotImplementedError(f"{root}: kustomization keys this renderer does not implement: {unknown}")
    if kust.get("kind", "Kustomization") != expect_kind:
        raise ValueError(f"{root}: expected kind {expect_kind}, got {kust.get('kind')}")
    for entry in kust.get("resources", []):
        path = root / entry
        resources += build(path) if path.is_dir() else load_documents(path)
    for entry in kust.get("components", []):
        resources = _accumulate(root / entry, resources, expect_kind="Component")
    for generator in kust.get("configMapGenerator", []):
        resources.append(_config_map(root, generator))
    for patch in kust.get("patches", []):
        resources = _apply_patch(root, patch, resources)
    return resources


def _config_map(root: Path, generator: dict[str, Any]) -> Resource:
    if set(generator) - {"name", "files", "options"}:
        raise NotImplementedError(f"configMapGenerator fields: {set(generator)}")
    if not generator.get("options", {}).get("disableNameSuffixHash"):
        raise NotImplementedError("hashed ConfigMap names (and they would defeat hot reload)")
    data = {}
    for entry in generator["files"]:
        key, _, file = entry.rpartition("=")
        data[key or Path(file).name] = (root / file).read_text()
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data}


def _apply_patch(root: Path, spec: dict[str, Any], resources: list[Resource]) -> list[Resource]:
    if set(spec) - {"path", "target"} or set(spec.get("target", {})) - {"kind", "name"}:
        raise NotImplementedError(f"patch fields: {spec}")
    patch = yaml.safe_load((root / spec["path"]).read_text())
    target = spec.get("target") or {"kind": patch["kind"], "name": patch["metadata"]["name"]}
    out = []
    hits = 0
    for res in resources:
        if (
            res["kind"] == target["kind"]
            and target.get("name", res["metadata"]["name"]) == res["metadata"]["name"]
        ):
            hits += 1
            res = json_patch(res, patch) if isinstance(patch, list) else strategic_merge(res, _body(patch))
        out.append(res)
    if not hits:
        raise ValueError(f"{root / spec['path']}: the target {target} matches no resource")
    return out


def _body(patch: Resource) -> Resource:
    """A targeted patch's own identity is ignored; only what it changes is merged."""
    body = copy.deepcopy(patch)
    for key in ("apiVersion", "kind"):
        body.pop(key, None)
    meta = body.get("metadata", {})
    meta.pop("name", None)
    if not meta:
        body.pop("metadata", None)
    return body


def strategic_merge(original: Any, patch: Any, field: str = "") -> Any:
    if isinstance(original, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(original, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = copy.deepcopy(original)
        for item in patch:
            index = next((i for i, o in enumerate(merged_list) if o.get(key) == item.get(key)), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)  # scalars and lists without a merge key are replaced


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(doc: Resource, ops: list[dict[str, Any]]) -> Resource:
    """RFC 6902 `add`, `replace` and `remove`; a missing parent fails as in kustomize."""
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _pointer(op["path"])
        node: Any = doc
        for part in parents:
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{op['op']} {op['path']}: the document has no {part!r}") from exc
        if op["op"] == "add" and isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), copy.deepcopy(op["value"]))
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and (last not in node if isinstance(node, dict) else False):
                raise ValueError(f"replace {op['path']}: nothing to replace")
            node[int(last) if isinstance(node, list) else last] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        else:
            raise NotImplementedError(f"JSON patch op {op['op']!r}")
    return doc
