"""Benchmark aggregator.fetch: 1,000 pages on 50 local hosts with 50 ms latency.

A child process serves 50 hosts (127.0.0.10 to 127.0.0.59; Linux routes all of
127/8 to lo) with a minimal keep-alive HTTP/1.1 server that answers every request,
robots.txt included, after 50 ms. The parent fetches 20 pages per host with the
default limits (16 requests overall, 2 per host) and a fresh cache each run, and
prints the median wall time of 3 runs next to the bound those limits allow:
1000 pages x 50 ms / 16 = 3.1 s (3.3 s counting the 50 robots.txt requests).

Run: python benchmarks/bench_fetch.py [--runs N]. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.config import FetchConfig
from aggregator.fetch import default_user_agent, fetch_pages

HOSTS = [f"127.0.0.{n}" for n in range(10, 60)]
PAGES_PER_HOST = 20
LATENCY = 0.05

PAGE = (
    b"<!doctype html><html><head><title>Story</title>"
    b'<meta property="article:modified_time" content="2024-03-04T10:20:30Z">'
    b'<link rel="canonical" href="/canonical">'
    b"</head><body>" + b"<p>Some words of the story.</p>" * 100 + b"</body></html>"
)


class _Stats:
    def __init__(self) -> None:
        self.current: Counter[str] = Counter()
        self.peak_host = 0
        self.now = 0
        self.peak = 0
        self.requests = 0

    def reset(self) -> None:
        self.peak_host = self.peak = self.requests = 0


async def _serve_connection(
    host: str, stats: _Stats, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            stats.requests += 1
            stats.current[host] += 1
            stats.now += 1
            stats.peak_host = max(stats.peak_host, stats.current[host])
            stats.peak = max(stats.peak, stats.now)
            await asyncio.sleep(LATENCY)
            stats.current[host] -= 1
            stats.now -= 1
            if path == b"/robots.txt":
                status, body = b"404 Not Found", b"not here"
            else:
                status, body = b"200 OK", PAGE
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _server_main(control: Connection) -> None:
    async def main() -> None:
        stats = _Stats()
        ports: dict[str, int] = {}
        servers = []
        for host in HOSTS:

            async def handle(
                r: asyncio.StreamReader, w: asyncio.StreamWriter, host: str = host
            ) -> None:
                await _serve_connection(host, stats, r, w)

            server = await asyncio.start_server(handle, host, 0, backlog=256)
            servers.append(server)
            ports[host] = server.sockets[0].getsockname()[1]
        control.send(ports)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, control.recv)
            if command == "stats":
                control.send((stats.requests, stats.peak, stats.peak_host))
                stats.reset()
            else:
                return

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_server_main, args=(child,), daemon=True)
    server.start()
    ports: dict[str, int] = parent.recv()
    urls = [
        f"http://{host}:{ports[host]}/story/{n}" for host in HOSTS for n in range(PAGES_PER_HOST)
    ]
    config = FetchConfig(enabled=True, allow_private_networks=True)
    agent = default_user_agent(config.contact_url)
    pages = len(urls)
    bound = pages * LATENCY / config.concurrency
    bound_robots = (pages + len(HOSTS)) * LATENCY / config.concurrency
    print(
        f"{pages} pages on {len(HOSTS)} hosts, {LATENCY * 1000:.0f} ms latency, "
        f"limits {config.concurrency} overall / {config.per_host} per host"
    )
    try:
        import sniffio  # noqa: F401
    except ImportError:
        # httpcore then retries the failed import on every lock it creates
        # (encode/httpcore#1103), which costs about a third of the client's CPU.
        print("note: sniffio is not installed; expect a slower client")
    times = []
    try:
        for run in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                outcome = fetch_pages(urls, config, Path(tmp) / "fetch.sqlite", user_agent=agent)
                elapsed = time.perf_counter() - started
            parent.send("stats")
            requests, peak, peak_host = parent.recv()
            statuses = Counter(r.status for r in outcome.results.values())
            times.append(elapsed)
            print(
                f"run {run}: {elapsed:.2f} s  {dict(statuses)}  server saw {requests} requests, "
                f"peak in flight {peak} overall, {peak_host} per host"
            )
    finally:
        parent.send("stop")
        server.join(timeout=5)
    median = statistics.median(times)
    print(f"median wall time:  {median:.2f} s over {len(times)} runs")
    print(
        f"theoretical bound: {bound:.2f} s ({pages} x {LATENCY * 1000:.0f} ms / "
        f"{config.concurrency}); {bound_robots:.2f} s with the {len(HOSTS)} robots.txt requests"
    )
    print(f"efficiency:        {bound / median:.0%} of the page bound")


if __name__ == "__main__":
    main()
