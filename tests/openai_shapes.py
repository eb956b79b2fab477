"""A stand-in vLLM / SGLang / plain OpenAI-compatible server on 127.0.0.1, for protocol tests.

It replays response *shapes* taken from those servers' documentation (vLLM's
OpenAI-compatible server and reasoning outputs, SGLang's OpenAI API and
``/get_server_info``, OpenAI's chat streaming reference); it runs no model. Each
answer is made from the request's seed (``\\boxed{seed % 3}``), so a consensus over it
has several answers and a test can check which seed reached which sample. Every
request body is kept in ``received`` so tests can check what Quorum sent.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OWNERS = {"vllm": "vllm", "sglang": "sglang", "openai": "system"}
MODEL = "Qwen/Qwen3-4B-Thinking-2507"


class ShapeServer:
    """``kind``: vllm, sglang or openai; ``reasoning_field``: how the trace is sent."""

    def __init__(
        self, kind: str, *, reasoning_field: str | None = "reasoning_content",
        api_key: str | None = None, token_delay_s: float = 0.0,
    ) -> None:  # fmt: skip
        self.kind = kind
        self.reasoning_field = reasoning_field
        self.api_key = api_key
        self.token_delay_s = token_delay_s
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ShapeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.received if p == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        shape = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if shape.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {shape.api_key}":
                    return True
                self._json(
                    401,
                    {
                        "error": {
                            "message": "Unauthorized",
                            "type": "invalid_request_error",
                            "code": 401,
                        }
                    },
                )
                return False

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path == "/v1/models":
                    card = {
                        "id": MODEL,
                        "object": "model",
                        "created": 1764547200,
                        "owned_by": OWNERS[shape.kind],
                        "root": MODEL,
                        "max_model_len": 32768,
                    }
                    self._json(200, {"object": "list", "data": [card]})
                elif self.path == "/version" and shape.kind == "vllm":
                    self._json(200, {"version": "0.11.0"})
                elif self.path == "/get_server_info" and shape.kind == "sglang":
                    self._json(200, {"version": "0.5.3", "model_path": MODEL, "tp_size": 1})
                else:
                    self._json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                shape.received.append((self.path, body))
                if not self._authorised():
                    return
                if self.path == "/v1/completions" and shape.kind != "openai":
                    n = int(body.get("n", 1))
                    choices = [
                        {
                            "index": i,
                            "text": " there",
                            "finish_reason": "length",
                            "stop_reason": None,
                            "logprobs": {
                                "text_offset": [0],
                                "token_logprobs": [-1.25],
                                "tokens": [" there"],
                                "top_logprobs": [{" there": -1.25}],
                            },
                        }
                        for i in range(n)
                    ]
                    self._json(
                        200,
                        {
                            "id": "cmpl-1",
                            "object": "text_completion",
                            "created": 1764547200,
                            "model": MODEL,
                            "choices": choices,
                            "usage": {
                                "prompt_tokens": 1,
                                "completion_tokens": n,
                                "total_tokens": n + 1,
                            },
                        },
                    )
                elif self.path == "/v1/chat/completions":
                    self._stream_chat(body)
                else:
                    self._json(404, {"detail": "Not Found"})

            def _stream_chat(self, body: dict[str, Any]) -> None:
                seed = int(body.get("seed") or 0)
                reasoning = ["Let me ", "count: ", f"{seed % 3}."]
                answer = ["The answer is ", f"\\boxed{{{seed % 3}}}", "."]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1764547200,
                    "model": MODEL,
                }

                def send(
                    choice_delta: dict[str, Any] | None,
                    finish: str | None = None,
                    usage: Any = None,
                ) -> None:
                    event = dict(base)
                    event["choices"] = (
                        []
                        if choice_delta is None
                        else [
                            {
                                "index": 0,
                                "delta": choice_delta,
                                "logprobs": _logprobs(body, choice_delta),
                                "finish_reason": finish,
                            }
                        ]
                    )
                    if usage is not None:
                        event["usage"] = usage
                    data = f"data: {json.dumps(event)}\n\n".encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                    time.sleep(shape.token_delay_s)

                try:
                    send({"role": "assistant", "content": ""})
                    for piece in reasoning:
                        if shape.reasoning_field:
                            send({shape.reasoning_field: piece})
                    if not shape.reasoning_field:  # a server that does not split: tags in the text
                        send({"content": "<think>" + "".join(reasoning) + "</think>"})
                    for piece in answer:
                        send({"content": piece})
                    send({}, finish="stop")
                    send(
                        None,
                        usage={"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20},
                    )
                    done = b"data: [DONE]\n\n"
                    self.wfile.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cut the stream (cancel)

        return Handler


def logprob_of(text: str) -> float:
    """The stand-in's made-up log-probability of a token with this text (tests recompute it)."""
    return -0.05 - 0.25 * (len(text) % 4)


def _logprobs(body: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI's chat logprobs shape (also vLLM's): one entry for the event's one token, with
    ``top_logprobs`` alternatives, when the request asked for them; no token ids."""
    text = next((str(v) for k, v in delta.items() if k != "role" and v), "")
    if not body.get("logprobs") or not text:
        return None
    chosen = logprob_of(text)
    top = [{"token": text, "logprob": chosen, "bytes": list(text.encode())}]
    top += [{"token": f"alt{i}", "logprob": chosen - i, "bytes": list(f"alt{i}".encode())}
            for i in range(1, int(body.get("top_logprobs") or 0))]  # fmt: skip
    entry = {"token": text, "logprob": chosen, "bytes": list(text.encode()), "top_logprobs": top}
    return {"content": [entry]}
