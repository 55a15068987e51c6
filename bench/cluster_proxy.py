#!/usr/bin/env python
"""A small asyncio reverse proxy for bench/cluster.py when nginx cannot be installed: HTTP/1.1,
keep-alive towards the client, round robin over the upstream nodes, one upstream connection per
request (``Connection: close``), ``X-Upstream`` on every answer (the node or nodes it tried,
as nginx's ``$upstream_addr``).

Its rule for a failing node is nginx's ``proxy_next_upstream error timeout`` (without
``non_idempotent``): a node that refuses the connection is marked down for ``--fail-seconds``
and the request goes to the next node, whatever its method (nothing was sent); a request that was
sent and got no answer goes to the next node only when its method is idempotent, else the client
gets 502 — a POST may have been carried out before the node died, and only the client (with an
``Idempotency-Key``) can ask again safely.

    .venv/bin/python bench/cluster_proxy.py --port 8080 127.0.0.1:8001 127.0.0.1:8002

Bench only: no TLS, no chunked request bodies (requests carry a Content-Length), bodies read whole.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}


class Upstreams:
    def __init__(self, addresses: list[str], fail_seconds: float):
        self.addresses, self.fail_seconds = addresses, fail_seconds
        self.down: dict[str, float] = {}
        self.turn = itertools.count()

    def order(self) -> list[str]:
        """Every node, starting at the next in turn; those marked down go last."""
        start = next(self.turn) % len(self.addresses)
        ring = self.addresses[start:] + self.addresses[:start]
        now = time.monotonic()
        return [a for a in ring if self.down.get(a, 0) <= now] + [a for a in ring if self.down.get(a, 0) > now]

    def failed(self, address: str) -> None:
        self.down[address] = time.monotonic() + self.fail_seconds


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    return head


def parse_headers(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


async def exchange(address: str, request: bytes) -> tuple[bool, bytes | None]:
    """``(sent, response)``: ``sent`` False when the connection was refused (nothing sent);
    ``response`` None when the node gave no whole answer."""
    host, port = address.rsplit(":", 1)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2)
    except (TimeoutError, OSError):
        return False, None
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(read_head(reader), 60)
        if head is None:
            return True, None
        body = await asyncio.wait_for(reader.read(), 60)  # Connection: close: the body ends at EOF
        return True, head + body
    except (TimeoutError, OSError):
        return True, None
    finally:
        writer.close()


def client_response(response: bytes, tried: list[str]) -> bytes:
    head, _, body = response.partition(b"\r\n\r\n")
    status, headers = parse_headers(head + b"\r\n\r\n")
    chunked = (header(headers, b"transfer-encoding") or b"").lower() == b"chunked"
    kept = [(k, v) for k, v in headers if k.lower() not in HOP and k.lower() != b"content-length"]
    if not chunked:
        kept.append((b"Content-Length", str(len(body)).encode()))
    kept.append((b"X-Upstream", ", ".join(tried).encode()))
    return status + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in kept) + b"\r\n" + body


def bad_gateway(tried: list[str]) -> bytes:
    body = b"502 Bad Gateway\n"
    return (
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nX-Upstream: "
        + ", ".join(tried).encode()
        + b"\r\n\r\n"
        + body
    )


async def serve_client(upstreams: Upstreams, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await read_head(reader)
            if head is None:
                return
            line, headers = parse_headers(head)
            method = line.split(b" ", 1)[0].decode("latin-1")
            length = int(header(headers, b"content-length") or b"0")
            body = await reader.readexactly(length) if length else b""
            kept = [(k, v) for k, v in headers if k.lower() not in HOP]
            kept += [(b"Connection", b"close"), (b"X-Forwarded-For", b"127.0.0.1")]
            request = line + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in kept) + b"\r\n" + body
            tried, answer = [], None
            for address in upstreams.order()[:2]:
                tried.append(address)
                sent, response = await exchange(address, request)
                if response is not None:
                    answer = client_response(response, tried)
                    break
                upstreams.failed(address)
                if sent and method not in IDEMPOTENT:
                    break  # it may have been carried out: never sent twice by the proxy
            writer.write(answer or bad_gateway(tried))
            await writer.drain()
            if (header(headers, b"connection") or b"").lower() == b"close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def main(port: int, addresses: list[str], fail_seconds: float) -> None:
    upstreams = Upstreams(addresses, fail_seconds)
    server = await asyncio.start_server(
        lambda r, w: serve_client(upstreams, r, w), "127.0.0.1", port, limit=1 << 20, backlog=1024
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail-seconds", type=float, default=3.0)
    parser.add_argument("upstream", nargs="+", help="host:port of each node")
    args = parser.parse_args()
    if any(not a.startswith("127.") for a in args.upstream):
        parser.error("loopback nodes only")
    asyncio.run(main(args.port, args.upstream, args.fail_seconds))
