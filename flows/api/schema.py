"""OpenAPI description of the flow endpoints: HMAC authentication (drf-spectacular
extension). The request bodies come from the flows' definitions (issue 23 point 3)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from ..definitions.push import MAX_ITEMS, push_body

__all__ = ["MAX_ITEMS", "HmacAuthenticationScheme", "push_body"]


class HmacAuthenticationScheme(OpenApiAuthenticationExtension):
    """The three headers of a signed call, declared as one security requirement (all three)."""

    target_class = "flows.api.authentication.HmacAuthentication"
    name = ["PortalKey", "PortalTimestamp", "PortalSignature"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Portal-Key",
                "description": "The API client's key id (admin: API clients).",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Portal-Timestamp",
                "description": "Unix seconds; within 300 s of the server clock.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Portal-Signature",
                "description": (
                    "HMAC-SHA256 request signature: hex HMAC-SHA256(secret, timestamp + '\\n' + "
                    "METHOD + '\\n' + path + '\\n' + sha256_hex(body)). Each signature is "
                    "accepted once (replays are refused); each client has a per-minute limit."
                ),
            },
        ]


# The request body of each endpoint is declared by its flow (FlowDefinition.push, with the
# schema helpers of flows/definitions/push.py); the views build the operations from it.
