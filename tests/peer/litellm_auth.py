"""Key check for the LiteLLM proxy in scripts/peer-tests.sh (general_settings.custom_auth).

Without a database LiteLLM answers a wrong key with 400 "No connected db." and a missing key
with a bare 500; a real serverless endpoint answers 401. This hook gives the peer tests that 401,
in LiteLLM's own error shape ({"error": {"message", "type", "param", "code"}}).
"""

import hmac
import os

from fastapi import Request
from litellm.proxy._types import ProxyException, UserAPIKeyAuth

# The master key LiteLLM insists on; scripts/peer-tests.sh sets it to tests/support's KEY.
EXPECTED_KEY = os.environ["LITELLM_MASTER_KEY"]


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if isinstance(api_key, str) and hmac.compare_digest(api_key.encode(), EXPECTED_KEY.encode()):
        return UserAPIKeyAuth(api_key=api_key)
    raise ProxyException(
        message="Authentication Error: invalid API key",
        type="auth_error",
        param="api_key",
        code=401,
    )
