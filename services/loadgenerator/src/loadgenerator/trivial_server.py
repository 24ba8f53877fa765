"""A trivial HTTP server for the generator to measure itself against: every POST is accepted at once.

    python -m loadgenerator.trivial_server PORT

It runs in a process of its own, so the generator's figures against it are the generator's alone.
"""

from __future__ import annotations

import sys
import uuid

import uvicorn
from starlette.types import Receive, Scope, Send

ANSWER_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body, as a real server would
        more = (await receive()).get("more_body", False)
    status = 202 if scope["method"] == "POST" else 200
    body = b'{"id":"%s","status":"pending"}' % uuid.uuid4().hex.encode()
    await send({"type": "http.response.start", "status": status, "headers": ANSWER_HEADERS})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    port = int(sys.argv[1])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
