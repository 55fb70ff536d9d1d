"""Deterministic "echo model" for the Azure ML inference server (azmlinfsrv).

Run by scripts/peer-tests.sh under the real `azureml-inference-server-http`
package, so the Rust peer tests talk to the same HTTP server that runs inside
Azure ML online-endpoint containers. It answers the DEDICATED request shapes of
docs/wire.md (P = prompt string, K = parameters object,
M = list of {"role", "content"} messages):

  gpt2           {"inputs": {"input_string": [P]}, "parameters": K}        -> [{"0": P}]
  hf             {"inputs": [P], "parameters": K}                          -> [{"generated_text": P}]
  dolly          {"input_data": {"input_string": [P]}, "parameters": K}    -> [P]
  custom_openai  {"input_data": {"input_string": [P], "parameters": K}}    -> [{"0": P}]
  chat           {"input_data": {"input_string": M, "parameters": K}}      -> {"output": <last message's content>}

The answer is exactly the input (no prefix, no trimming). Key sets are matched
exactly; anything else is answered 400 {"message": "echo model: ..."}.

How the server sends what run() returns (azmlinfsrv 1.5.1, routes.wrap_response):
any non-Response value is sent as `json.dumps(value)` (ensure_ascii=True, so
non-ASCII arrives as \\uXXXX escapes, astral characters as surrogate pairs)
with status 200 and Content-Type application/json. A returned `str` would be
JSON-encoded too (sent as a JSON string), never sent raw.

Knobs, read from K (the parameters object), applied in this order:
  "delay_ms": N          sleep N ms first (also before a failure below)
  "fail": "raise"        run() raises RuntimeError("model failed on purpose");
                         the server answers 500 {"message": "An unexpected error
                         occurred in scoring script. ..."} (our message only
                         goes to the server log)
  "status": 400..599     answer that status with {"message": "status on purpose"}
  "status_headers": {h: v}  extra response headers sent with "status"
                         (e.g. retry-after, ms-azureml-model-error-statuscode)
  "utf8": true           send the success body as raw UTF-8 JSON
                         (ensure_ascii=False) instead of \\u escapes
Chat-only extras (added to the {"output": ...} object):
  "want_deployment": true  adds "deployment": value of the request's
                           azureml-model-deployment header (null if absent)
  "want_headers": [names]  adds "headers": {name: value or null}
  "want_parameters": true  adds "parameters": K exactly as received (key order kept)

Request headers are visible to run(): azmlinfsrv passes them as the keyword
argument `request_headers` (a dict of the request's headers, names in
werkzeug's Title-Case) when run() declares that parameter; no @rawhttp needed.
"""

import json
import time

from azureml_inference_server_http.api.aml_response import AMLResponse


def init():
    pass


class ShapeError(Exception):
    pass


def _is_str_list_of_one(value):
    return isinstance(value, list) and len(value) == 1 and isinstance(value[0], str)


def _is_messages(value):
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in value)
    )


def _detect(body):
    """Return (shape, payload, parameters); payload is P or M."""
    if not isinstance(body, dict):
        raise ShapeError("body is not a JSON object")
    keys = set(body)
    if keys == {"inputs", "parameters"}:
        inputs, params = body["inputs"], body["parameters"]
        if isinstance(inputs, dict) and set(inputs) == {"input_string"} and _is_str_list_of_one(inputs["input_string"]):
            shape, payload = "gpt2", inputs["input_string"][0]
        elif _is_str_list_of_one(inputs):
            shape, payload = "hf", inputs[0]
        else:
            raise ShapeError("'inputs' is neither {\"input_string\": [P]} (gpt2) nor [P] (hf)")
    elif keys == {"input_data", "parameters"}:
        data, params = body["input_data"], body["parameters"]
        if isinstance(data, dict) and set(data) == {"input_string"} and _is_str_list_of_one(data["input_string"]):
            shape, payload = "dolly", data["input_string"][0]
        else:
            raise ShapeError("'input_data' is not {\"input_string\": [P]} (dolly)")
    elif keys == {"input_data"}:
        data = body["input_data"]
        if not (isinstance(data, dict) and set(data) == {"input_string", "parameters"}):
            raise ShapeError("'input_data' is not {\"input_string\": ..., \"parameters\": K}")
        inp, params = data["input_string"], data["parameters"]
        if _is_str_list_of_one(inp):
            shape, payload = "custom_openai", inp[0]
        elif _is_messages(inp):
            shape, payload = "chat", inp
        else:
            raise ShapeError("'input_string' is neither [P] (custom_openai) nor a list of messages (chat)")
    else:
        raise ShapeError(f"unexpected top-level keys {sorted(keys)}")
    if not isinstance(params, dict):
        raise ShapeError("parameters K is not a JSON object")
    return shape, payload, params


def _header(headers, name):
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return value
    return None


def _error(status, message, headers=None):
    return AMLResponse({"message": message}, status, headers or {}, json_str=True)


def run(raw_data, request_headers=None):
    try:
        body = json.loads(raw_data)
        shape, payload, params = _detect(body)
    except (ValueError, ShapeError) as ex:
        return _error(400, f"echo model: unrecognised request shape: {ex}")

    delay_ms = params.get("delay_ms")
    if delay_ms:
        time.sleep(float(delay_ms) / 1000.0)

    if params.get("fail") == "raise":
        raise RuntimeError("model failed on purpose")

    status = params.get("status")
    if status is not None:
        if not (isinstance(status, int) and 400 <= status <= 599):
            return _error(400, "echo model: \"status\" must be an integer 400..599")
        return _error(status, "status on purpose", params.get("status_headers"))

    if shape == "gpt2":
        answer = [{"0": payload}]
    elif shape == "hf":
        answer = [{"generated_text": payload}]
    elif shape == "dolly":
        answer = [payload]
    elif shape == "custom_openai":
        answer = [{"0": payload}]
    else:
        answer = {"output": payload[-1]["content"]}
        if params.get("want_deployment") is True:
            answer["deployment"] = _header(request_headers, "azureml-model-deployment")
        if isinstance(params.get("want_headers"), list):
            answer["headers"] = {str(n): _header(request_headers, str(n)) for n in params["want_headers"]}
        if params.get("want_parameters") is True:
            answer["parameters"] = params

    if params.get("utf8") is True:
        return AMLResponse(
            json.dumps(answer, ensure_ascii=False), 200, {"Content-Type": "application/json; charset=utf-8"}
        )
    return answer
