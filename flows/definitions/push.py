"""What a flow that accepts pushed documents declares (issue 23 point 3): its endpoint's path,
the OpenAPI text and example, and the JSON schema of one document. `flows/api/urls.py` and the
OpenAPI schema are built from the registered definitions, so a new endpoint is declared here, on
its flow, and nowhere else.

The helpers below write the document schemas. They are raw JSON schemas (drf-spectacular passes
dicts through). Every endpoint takes one document, an array of at most MAX_ITEMS documents, or
no body / {} / [] (pull now). The documents keep the shape of their source system, whose rows
carry many more keys: additionalProperties stays open.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_ITEMS = 500


@dataclass(frozen=True)
class PushEndpoint:
    """The push endpoint of one flow: `path` without the leading slash (e.g.
    "kdcloud/purchase/inbound"), the operation's summary and description, the JSON schema of
    one document (`body`) and an example document the endpoint accepts. The URL is named
    `push-<code with dashes>` and the operation `push_<code>`."""

    path: str
    summary: str
    description: str
    body: dict
    example: dict


NUMBER = {"oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}]}
WHOLE = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\d+$"}]}
KEY_TEXT = {"type": "string", "minLength": 1, "maxLength": 80}


def ref(description: str) -> dict:
    """A Kingdee base-data reference of the Save model, {"FNumber": "..."}."""
    return {
        "type": "object",
        "description": description,
        "properties": {"FNumber": {"type": "string", "minLength": 1, "maxLength": 80}},
        "required": ["FNumber"],
    }


def document_schema(title: str, properties: dict, required: list[str], description: str) -> dict:
    """The schema of one pushed document (further keys of the source row are allowed)."""
    return {
        "type": "object",
        "title": title,
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def push_body(one: dict) -> dict:
    """One document or an array of them (an empty body, {} or [] asks for a pull)."""
    return {
        "oneOf": [
            one,
            {"type": "array", "items": one, "maxItems": MAX_ITEMS},
        ]
    }


JST_LINE = {
    "type": "object",
    "properties": {
        "sku_id": {"type": "string", "maxLength": 80},
        "qty": {"type": "integer", "minimum": 0},
        "price": NUMBER,
        "amount": NUMBER,
        "outer_oi_id": {"type": "string"},
        "sku_type": {"type": "string"},
    },
}


def kingdee_bill(title: str, entry_key: str, entry: dict, header: dict, description: str) -> dict:
    """A pushed Kingdee bill: FBillNo, FDocumentStatus, the header keys and its entry rows
    (material, stock and quantity keys required on each row)."""
    row = {
        "type": "object",
        "properties": entry,
        "required": [k for k in entry if k.lower().endswith(("materialid", "stockid"))]
        + [k for k in entry if k.lower() in ("frealqty", "frmrealqty", "fqty")],
    }
    return document_schema(
        title,
        {
            "FBillNo": {**KEY_TEXT, "description": "Kingdee bill no."},
            "FDocumentStatus": {
                "type": "string",
                "description": "C (audited) is synced; other statuses are kept, not synced",
            },
            "FModifyDate": {"type": "string", "example": "2026-11-28 10:15:00"},
            **header,
            entry_key: {"type": "array", "items": row, "minItems": 1},
        },
        ["FBillNo", entry_key],
        description,
    )
