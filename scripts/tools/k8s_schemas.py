#!/usr/bin/env python3
"""Unpack kubernetes-validate's JSON schemas of one Kubernetes version into kubeconform's layout.

Usage: k8s_schemas.py KUBERNETES_VALIDATE_WHEEL vMAJOR.MINOR.0 OUT_DIR
Writes OUT_DIR/standard/*.json and OUT_DIR/standard-strict/*.json (file names already follow kubeconform's
{{.ResourceKind}}{{.KindSuffix}}.json), so `-schema-location 'OUT_DIR/standard{{.StrictSuffix}}/...'` works.
The schemas carry an "$id" under https://kubernetes.io/api/ and reference "/api/_definitions.json#/..." against
it; the "$id" is dropped and the reference becomes the sibling file "_definitions.json#/...", which kubeconform's
file loader then resolves next to the schema, offline.
"""

import json
import os
import sys
import zipfile

PREFIX = "kubernetes_validate/kubernetes-json-schema/"


def main(wheel: str, version: str, out: str) -> None:
    written = {"standard": 0, "standard-strict": 0}
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if not name.startswith(PREFIX) or not name.endswith(".json"):
                continue
            folder, _, filename = name[len(PREFIX) :].partition("/")
            if folder == f"{version}-local":
                target = "standard"
            elif folder == f"{version}-local-strict":
                target = "standard-strict"
            else:
                continue
            text = z.read(name).decode("utf-8").replace('"/api/_definitions.json#', '"_definitions.json#')
            schema = json.loads(text)
            schema.pop("$id", None)
            text = json.dumps(schema, indent=1)
            os.makedirs(os.path.join(out, target), exist_ok=True)
            with open(os.path.join(out, target, filename), "w", encoding="utf-8") as f:
                f.write(text)
            written[target] += 1
    if not all(written.values()):
        available = sorted({n[len(PREFIX) :].split("/")[0] for n in zipfile.ZipFile(wheel).namelist() if n.startswith(PREFIX)})
        sys.exit(f"k8s_schemas: no schemas for {version} in {os.path.basename(wheel)}; it has: {', '.join(available)}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: k8s_schemas.py WHEEL vX.Y.0 OUT_DIR")
    main(*sys.argv[1:])
