"""A readable API reference page generated from the OpenAPI document.

Rendered on the server from ``/api/openapi.json``: no script from a CDN, nothing for the
content security policy to allow, and it reads without JavaScript.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from keepfaith.web.templates import render

router = APIRouter(include_in_schema=False)

METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    if "anyOf" in schema:
        return " or ".join(_schema_name(s) for s in schema["anyOf"])
    return str(schema.get("type", "object"))


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {})
            first: dict[str, Any] = next(iter(body.values()), {}) if body else {}
            body_schema = first.get("schema")
            ops.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or ["other"])[0],
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _schema_name(p.get("schema", {})),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _schema_name(body_schema) if body_schema else None,
                    "responses": [
                        {"status": status, "description": r.get("description", "")}
                        for status, r in op.get("responses", {}).items()
                    ],
                }
            )
    return sorted(ops, key=lambda o: (o["tag"], o["path"], o["method"]))


@router.get("/api/docs")
def api_docs(request: Request) -> Response:
    spec = request.app.openapi()
    schemas = spec.get("components", {}).get("schemas", {})
    return render(
        request,
        "apidocs.html",
        {
            "spec": spec,
            "operations": operations(spec),
            "schemas": dict(sorted(schemas.items())),
            "schema_type": _schema_name,
        },
    )
