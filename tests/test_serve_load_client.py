"""The serve_load benchmark's load generator counts every request once: answered, HTTP error, lost or timed out."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import serve_load  # noqa: E402

HANG, DROP = 7, 11  # the 7th request never gets an answer, the 11th loses its connection


async def _flaky_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: list[int]) -> None:
    """Keep-alive HTTP server: 500 on every 5th request, one request left hanging, one connection dropped."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            seen.append(len(seen) + 1)
            k = seen[-1]
            if k in (HANG, DROP):
                if k == HANG:
                    await asyncio.sleep(3)
                writer.close()
                return
            status = b"500 Internal Server Error" if k % 5 == 0 else b"200 OK"
            body = b'{"ok": true}'
            writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n")
            await asyncio.sleep(0)  # the body in a second segment
            writer.write(body)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass


def test_load_generator_accounts_for_every_request():
    async def run() -> tuple[list[float], list[str], list[int]]:
        seen: list[int] = []
        server = await asyncio.start_server(lambda r, w: _flaky_server(r, w, seen), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        lat: list[float] = []
        errors: list[str] = []
        async with server:
            await asyncio.gather(*[serve_load._client("127.0.0.1", port, [b"{}"], 10, lat, errors, timeout=1.0)
                                   for _ in range(3)])
        return lat, errors, seen

    lat, errors, seen = asyncio.run(run())
    assert len(lat) + len(errors) == 30 == len(seen)
    assert errors.count("TimeoutError") == 1 and errors.count("ConnectionLost") == 1
    assert errors.count("HTTP 500") == len([k for k in seen if k % 5 == 0 and k not in (HANG, DROP)])
    assert all(0 < t < 1.0 for t in lat)
