"""The OpenAPI 3.1 document, built from the registered routes and their pydantic models."""
from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from web.api import ROUTES, route
from web.api.responses import SCHEMAS as RESPONSE_SCHEMAS
from web.api.responses import success_schema

ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "additionalProperties": True,
}


INT64_MAX = 2**63 - 1
ERRORS = {
    "400": "参数错误", "401": "未登录或令牌无效", "403": "无权限", "404": "不存在", "409": "状态不允许或版本冲突",
    "413": "请求体过大", "415": "请求体须为 JSON", "429": "登录失败次数过多，暂时锁定",
}  # fmt: skip


PATH_EXAMPLES = {"phone": "13812345678", "number": "20261123-00001"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def build_spec() -> dict[str, Any]:
    models = {m for r in ROUTES for m in (r.body, r.query) if m is not None}
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        responses: dict[str, Any] = {
            str(r.status): {"description": "成功", "content": _json(success_schema(r.method, r.path, r.tag))},
        }
        for code, text in ERRORS.items():
            if code in ("401", "403") and not r.auth and r.path != "/auth/login":
                continue
            responses[code] = {"description": text, "content": _json({"$ref": "#/components/schemas/Error"})}
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": f"{r.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', r.path.lower()).strip('_')}",
            "responses": responses,
        }
        if not r.auth:
            op["security"] = []
        params = [
            {"name": n, "in": "path", "required": True, "example": PATH_EXAMPLES.get(n, 1),
             "schema": {"type": "integer", "minimum": 0, "maximum": INT64_MAX} if n.endswith("_id") else
             {"type": "string", "minLength": 1, "maxLength": 64}}
            for n in re.findall(r"{(\w+)}", r.path)
        ]  # fmt: skip
        if r.query is not None:
            qschema = r.query.model_json_schema()
            for name, field in r.query.model_fields.items():
                params.append({"name": name, "in": "query", "required": field.is_required(),
                               "description": field.description or "", "schema": qschema["properties"][name]})  # fmt: skip
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}}},
            }
        paths.setdefault("/api/v1" + r.path, {})[r.method.lower()] = op
    schemas = dict(defs.get("$defs", {}))
    schemas.update(RESPONSE_SCHEMAS)
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
