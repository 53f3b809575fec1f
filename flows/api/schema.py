"""OpenAPI description of the HMAC authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HmacAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "flows.api.authentication.HmacAuthentication"
    name = "PortalHmac"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Portal-Signature",
            "description": (
                "HMAC-SHA256 request signature. Send X-Portal-Key (key id), X-Portal-Timestamp "
                "(Unix seconds, within 300 s) and X-Portal-Signature = hex HMAC-SHA256(secret, "
                "timestamp + '\\n' + METHOD + '\\n' + path + '\\n' + sha256_hex(body)). "
                "Each signature is accepted once."
            ),
        }
