"""The OpenAPI 3.1 document, built from the registered routes and their pydantic models."""
from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from web.api import ROUTES, route

ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "additionalProperties": True,
}


def build_spec() -> dict[str, Any]:
    models = {m for r in ROUTES for m in (r.body, r.query) if m is not None}
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": f"{r.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', r.path.lower()).strip('_')}",
            "responses": {
                str(r.status): {"description": "成功", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": {"description": "参数错误", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "不存在", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }  # fmt: skip
        if r.auth:
            op["responses"]["401"] = {"description": "未登录", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}  # fmt: skip
            op["responses"]["403"] = {"description": "无权限", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}  # fmt: skip
        else:
            op["security"] = []
        if r.method != "GET" and r.tag == "workflow":
            op["responses"]["409"] = {"description": "状态不允许或版本冲突", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}  # fmt: skip
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "integer" if n.endswith("_id") else "string"}}
            for n in re.findall(r"{(\w+)}", r.path)
        ]
        if r.query is not None:
            for name, field in r.query.model_fields.items():
                params.append({"name": name, "in": "query", "required": False, "description": field.description or "",
                               "schema": r.query.model_json_schema()["properties"][name]})  # fmt: skip
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}}},
            }
        paths.setdefault("/api/v1" + r.path, {})[r.method.lower()] = op
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 政务服务便民热线 API", "version": "1.0.0",
                 "description": "工单受理、派单、签收、退单、延期、督办、回复、审核、回访、重办、并单等全流程接口。"},  # fmt: skip
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


@route("/openapi.json", summary="OpenAPI 文档", tag="meta", auth=False)
def openapi_json():  # noqa: ANN201
    return build_spec()
