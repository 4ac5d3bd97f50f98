"""actors.fastapi under a REAL uvicorn server (a thread per server, a subprocess for the CLI).

Each test builds its ActorSystem outside any loop (as a module-level app does at import time),
serves the app on a free 127.0.0.1 port, drives it with httpx and stops the server the
graceful way (``should_exit``). Every log record of the test is scanned for loop errors.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import wait_until
from fastapi import FastAPI

from actors import ActorSystem, AgentRef, CancelToken, Start
from actors.agent_actor import InjectFault
from actors.fastapi import AgentStats, Started, lifespan, router

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent
LOOP_ERRORS = ("attached to a different loop", "different event loop", "event loop is closed",
               "was never awaited", "never retrieved", "task was destroyed")


class AsyncAgent:
    """Records the loop each run is awaited on."""

    def __init__(self) -> None:
        self.calls = 0
        self.loops: set[asyncio.AbstractEventLoop] = set()

    async def __call__(self, task: str) -> str:
        self.loops.add(asyncio.get_running_loop())
        await asyncio.sleep(0)
        self.calls += 1
        return task


class SyncAgent:
    """Records the thread each run executes in."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[threading.Thread] = set()

    def __call__(self, task: str) -> str:
        self.threads.add(threading.current_thread())
        self.calls += 1
        return task


class App:
    """An app as a user writes it: system built outside any loop, agents spawned at startup."""

    def __init__(self, token: str | None = TOKEN, start_news: bool = True) -> None:
        self.news, self.digest = AsyncAgent(), SyncAgent()
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.refs: list[AgentRef] = []
        self.start_news = start_news
        self.system = ActorSystem()
        self.app = FastAPI(lifespan=lifespan(self.system, on_startup=self.setup))
        self.app.include_router(router(self.system, token=token))

    async def setup(self, system: ActorSystem) -> None:
        self.loops.append(asyncio.get_running_loop())
        news = system.spawn(self.news, task="AI", name="news")
        digest = system.spawn(self.digest, task="digest", name="digest")
        self.refs = [news, digest]
        if self.start_news:
            news.tell(Start("0.05", run_immediately=True))


@contextmanager
def serve(app: FastAPI) -> Iterator[httpx.Client]:
    """Run ``app`` under uvicorn in a thread; yield a client; stop it gracefully on exit."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
    # (proto 0 costs every response a 40 ms delayed-ACK stall).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name="uvicorn-test-server")
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), timeout=10)
        if not server.started:
            raise RuntimeError(f"server did not start: {errors!r}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not shut down"
        assert not server.started or not errors, errors  # a failed startup raised above


def assert_clean_log(caplog: pytest.LogCaptureFixture, allowed: tuple[str, ...] = ()) -> None:
    """No loop error anywhere, and no ERROR record that is not expected."""
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r}"
        assert not any(err in text.lower() for err in LOOP_ERRORS), text
        if record.levelno >= logging.ERROR:
            assert any(a in text for a in allowed), f"unexpected error logged: {text}"


def stats(client: httpx.Client, name: str) -> dict[str, Any]:
    response = client.get(f"/agents/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


@pytest.mark.timeout(20)
def test_agents_run_on_the_server_loop_and_http_controls_them(logs: pytest.LogCaptureFixture) -> None:
    app = App()
    with serve(app.app) as client:
        (server_loop,) = app.loops
        listing = client.get("/agents")
        assert listing.status_code == 200
        assert [s["name"] for s in listing.json()] == ["news", "digest"]
        assert [s["kind"] for s in listing.json()] == ["async", "sync"]
        assert client.get("/openapi.json").json()["paths"].keys() == {
            "/agents", "/agents/{name}", "/agents/{name}/start", "/agents/{name}/run", "/agents/{name}/stop",
            "/agents/{name}/history", "/agents/{name}/pause", "/agents/{name}/resume",
            "/", "/healthz", "/metrics", "/events"}

        # The async agent, started at startup, is awaited on uvicorn's own loop.
        wait_until(lambda: app.news.calls >= 3)
        assert app.news.loops == {server_loop}
        assert stats(client, "news")["is_running"] is True

        # start over HTTP: the sync agent runs, in a worker thread, and GET shows it.
        assert stats(client, "digest")["is_running"] is False
        body = {"schedule": "0.05", "max_retries": 2, "run_immediately": True}
        response = client.post("/agents/digest/start", json=body, headers=AUTH)
        assert response.status_code == 200 and response.json() == {"started": True}
        again = client.post("/agents/digest/start", json={"schedule": "every 1s"}, headers=AUTH)
        assert again.status_code == 200 and again.json() == {"started": False}  # already running
        wait_until(lambda: stats(client, "digest")["successful_executions"] >= 2)
        assert threading.main_thread() not in app.digest.threads
        assert all(t.name != "uvicorn-test-server" for t in app.digest.threads)
        digest = stats(client, "digest")
        assert digest["is_running"] is True and digest["failed_executions"] == 0

        # run over HTTP while the schedule runs: one more execution.
        before = stats(client, "digest")["total_executions"]
        response = client.post("/agents/digest/run", headers=AUTH)
        assert response.status_code == 200 and isinstance(response.json()["started"], bool)
        wait_until(lambda: stats(client, "digest")["total_executions"] > before)

        # stop over HTTP answers the final stats; GET agrees; run on a stopped agent does nothing.
        response = client.post("/agents/digest/stop", headers=AUTH)
        assert response.status_code == 200
        final = response.json()
        assert final["name"] == "digest" and final["is_running"] is False and final["state"] == "stopped"
        assert stats(client, "digest")["is_running"] is False
        assert client.post("/agents/digest/run", headers=AUTH).json() == {"started": False}
        assert stats(client, "digest")["total_executions"] == final["total_executions"]
        assert client.post("/agents/news/stop", headers=AUTH).json()["is_running"] is False
        assert [s["is_running"] for s in client.get("/agents").json()] == [False, False]
    assert_clean_log(logs)


@pytest.mark.timeout(20)
def test_graceful_shutdown_stops_every_agent_and_leaves_no_thread(logs: pytest.LogCaptureFixture) -> None:
    in_flight = threading.Event()

    def slow_sync(task: str, cancel_token: CancelToken) -> str:
        in_flight.set()
        cancel_token.wait(10)  # returns as soon as the agent is stopped
        return task

    cancelled: list[str] = []

    async def slow_async(task: str) -> str:
        try:
            await asyncio.Event().wait()  # never set: only the shutdown's cancel ends it
        except asyncio.CancelledError:
            cancelled.append(task)
            raise
        return task

    system = ActorSystem()
    refs: list[AgentRef] = []

    def setup(system: ActorSystem) -> None:
        refs.extend(system.spawn(agent, task="t", name=name) for name, agent in
                    [("sync", slow_sync), ("async", slow_async), ("idle", slow_async)])
        for ref in refs[:2]:
            ref.tell(Start("60", run_immediately=True))

    app = FastAPI(lifespan=lifespan(system, on_startup=setup, shutdown_timeout=0.3))
    app.include_router(router(system, token=TOKEN))
    with serve(app) as client:
        wait_until(lambda: [s["state"] for s in client.get("/agents").json()] == ["running", "running", "stopped"])
        assert in_flight.is_set()
    # The server stopped although the async run would never end: it got shutdown_timeout, then
    # was cancelled (the sync run returned when its token was cancelled).
    assert cancelled == ["t"]
    # The server is down: every agent is stopped and dead, the runs in flight were cancelled.
    assert system.agents() == []
    final = [ref.stats() for ref in refs]
    assert [s["is_running"] for s in final] == [False, False, False]
    assert [s["cancelled_executions"] for s in final] == [1, 1, 0]
    assert not any(ref.is_alive for ref in refs)
    assert_clean_log(logs)  # and the autouse fixture checks that no thread is left


@pytest.mark.timeout(20)
def test_a_restarted_server_reuses_the_same_system(logs: pytest.LogCaptureFixture) -> None:
    app = App()
    seen_loops = []
    for round_ in range(2):
        with serve(app.app) as client:
            loop = app.loops[-1]
            seen_loops.append(loop)
            calls = app.news.calls
            wait_until(lambda: app.news.calls >= calls + 2)
            assert [s["is_running"] for s in client.get("/agents").json()] == [True, False]
            response = client.post("/agents/digest/start", json={"schedule": "0.05", "run_immediately": True},
                                   headers=AUTH)
            assert response.json() == {"started": True}
            wait_until(lambda: stats(client, "digest")["successful_executions"] >= 1)
            assert loop in app.news.loops
        assert app.system.agents() == []
        assert [ref.stats()["is_running"] for ref in app.refs] == [False, False]
    assert seen_loops[0] is not seen_loops[1]
    assert app.news.loops == set(seen_loops)  # each server's agents ran on that server's loop
    assert_clean_log(logs)


@pytest.mark.timeout(20)
def test_control_needs_the_bearer_token_and_changes_nothing_without_it(logs: pytest.LogCaptureFixture) -> None:
    app = App(start_news=False)
    bad_headers = [httpx.Headers(h) for h in [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer"},
    ]] + [httpx.Headers([(b"Authorization", "Bearer s\u00e9cret".encode())])]
    with serve(app.app) as client:
        before = client.get("/agents").json()
        for headers in bad_headers:
            for path, body in [("start", {"schedule": "0.05", "run_immediately": True}), ("run", None),
                               ("stop", None), ("start", {"schedule": "bogus"})]:
                for name in ("digest", "no-such-agent"):  # 401 before 404 and 422: nothing leaks
                    response = client.post(f"/agents/{name}/{path}", json=body, headers=headers)
                    assert response.status_code == 401, (headers, path, response.text)
                    assert response.headers["www-authenticate"] == "Bearer"
        after = client.get("/agents").json()
        assert [s["is_running"] for s in after] == [False, False]
        assert [s["total_attempts"] for s in after] == [s["total_attempts"] for s in before] == [0, 0]
        assert app.news.calls == app.digest.calls == 0
        # The scheme is case-insensitive; the right token works.
        response = client.post("/agents/digest/start", json={"schedule": "60"},
                               headers={"Authorization": f"bearer {TOKEN}"})
        assert response.json() == {"started": True}
    assert_clean_log(logs)


@pytest.mark.timeout(20)
def test_bad_bodies_are_422_naming_the_problem_and_unknown_agents_404(logs: pytest.LogCaptureFixture) -> None:
    app = App(start_news=False)
    with serve(app.app) as client:
        cases: list[tuple[Any, str]] = [
            ({"schedule": "bogus"}, "bogus"),
            ({"schedule": "30 2 * * *"}, "30 2 * * *"),
            ({"schedule": "cron:99 * * * *"}, "cron:99"),
            ({"schedule": "0"}, "'0'"),
            ({"schedule": "0.05", "max_retries": 0}, "max_retries"),
            ({"schedule": "0.05", "max_retries": "3"}, "max_retries"),
            ({"schedule": "0.05", "run_immediately": "yes"}, "run_immediately"),
            ({"schedule": "0.05", "run_immedately": True}, "run_immedately"),
            ({"max_retries": 3}, "schedule"),
            ({"schedule": 3600}, "schedule"),
            ([], "body"),
        ]
        for body, named in cases:
            response = client.post("/agents/digest/start", json=body, headers=AUTH)
            assert response.status_code == 422, (body, response.text)
            assert named in response.text, (body, response.text)
        response = client.post("/agents/digest/start", content=b"not json", headers=AUTH)
        assert response.status_code == 422
        response = client.post("/agents/digest/start", headers=AUTH)
        assert response.status_code == 422
        assert stats(client, "digest")["is_running"] is False and app.digest.calls == 0

        for method, path in [("GET", "/agents/nope"), ("POST", "/agents/nope/run"), ("POST", "/agents/nope/stop")]:
            response = client.request(method, path, headers=AUTH)
            assert response.status_code == 404 and "nope" in response.json()["detail"]
        response = client.post("/agents/nope/start", json={"schedule": "bogus"}, headers=AUTH)
        assert response.status_code == 404  # the agent is looked up before the body is judged
    assert_clean_log(logs)


JSON = "application/json"
# (raw body, Content-Type, {route: (loc of the problem, words of its message)}) for every POST
# route: each is wrong for the route it names ("*": for every route).
BAD_BODIES: list[tuple[bytes, str | None, dict[str, tuple[list[Any], str]]]] = [
    (b"not json", JSON, {"*": (["body"], "Invalid JSON")}),
    (b"\xff\xfe", JSON, {"*": (["body"], "Invalid JSON")}),           # not even UTF-8
    (b'{"schedule": "\xff"}', JSON, {"*": (["body"], "Invalid JSON")}),
    (b'{"schedule": ', JSON, {"*": (["body"], "Invalid JSON")}),
    (b"[]", JSON, {"*": (["body"], "should be an object")}),
    (b'["every 5s"]', JSON, {"*": (["body"], "should be an object")}),
    (b'"every 5s"', JSON, {"*": (["body"], "should be an object")}),
    (b"null", JSON, {"*": (["body"], "should be an object")}),
    (b"1e400", JSON, {"*": (["body"], "should be an object")}),
    (b'{"schedule": "60"}', "text/plain", {"*": (["header", "content-type"], "Content-Type: application/json")}),
    (b'{"schedule": "60"}', None, {"*": (["header", "content-type"], "Content-Type: application/json")}),
    (b"", JSON, {"start": (["body"], "Field required")}),
    (b"{}", JSON, {"start": (["body", "schedule"], "Field required")}),
    (b'{"schedule": "60", "run_immedately": true}', JSON, {
        "start": (["body", "run_immedately"], "Extra inputs"), "run": (["body", "schedule"], "Extra inputs"),
        "stop": (["body", "run_immedately"], "Extra inputs")}),
    (b'{"schedule": "60", "max_retries": 1e400}', JSON, {
        "start": (["body", "max_retries"], "valid integer"), "run": (["body", "max_retries"], "Extra inputs"),
        "stop": (["body", "max_retries"], "Extra inputs")}),
    (b'{"schedule": "60", "max_retries": -100000000000000000000000000000}', JSON, {
        "start": (["body", "max_retries"], "max_retries must be >= 1")}),
    (b'{"schedule": 1e400}', JSON, {"start": (["body", "schedule"], "valid string")}),
    (b'{"schedule": "1e400"}', JSON, {"start": (["body", "schedule"], "must be finite")}),
    (b'{"schedule": "0.0001"}', JSON, {"start": (["body", "schedule"], "at least 1 ms")}),
    (b'{"schedule": "60", "run_immediately": 1}', JSON, {"start": (["body", "run_immediately"], "valid boolean")}),
    (b'{"task": "other"}', JSON, {"run": (["body", "task"], "Extra inputs"), "stop": (["body", "task"], "Extra inputs")}),
]
ROUTES = ("start", "run", "stop")


def bad_bodies(route: str) -> list[tuple[bytes, dict[str, str], list[Any], str]]:
    """The bodies that are wrong for ``route``: (raw, headers, loc, words of the message)."""
    cases = []
    for raw, content_type, problems in BAD_BODIES:
        problem = problems.get(route) or problems.get("*")
        if problem is not None:
            cases.append((raw, {"Content-Type": content_type} if content_type else {}, *problem))
    return cases


def post(client: httpx.Client, path: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    response = client.post(path, content=raw, headers=headers)
    assert response.status_code != 500, (path, raw, response.text)
    return response


@pytest.mark.timeout(30)
def test_every_post_route_answers_401_then_404_then_422_whatever_the_body(logs: pytest.LogCaptureFixture) -> None:
    app = App(start_news=False)
    wrong_tokens: list[dict[str, str]] = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}]
    with serve(app.app) as client:
        for route in ROUTES:
            for raw, headers, loc, words in bad_bodies(route):
                case = (route, raw, headers)
                # No or a wrong token: 401, whether the agent exists or not and whatever the body.
                for token in wrong_tokens:
                    for name in ("digest", "no-such-agent"):
                        response = post(client, f"/agents/{name}/{route}", raw, {**headers, **token})
                        assert response.status_code == 401, (case, token, response.text)
                        assert response.json() == {"detail": "missing or invalid bearer token"}
                        assert response.headers["www-authenticate"] == "Bearer"
                # The token is right but the agent unknown: 404, whatever the body.
                response = post(client, f"/agents/no-such-agent/{route}", raw, {**headers, **AUTH})
                assert response.status_code == 404, (case, response.text)
                assert response.json() == {"detail": "no agent named 'no-such-agent'"}
                # Token and agent are right: 422 naming the problem, in FastAPI's usual shape.
                response = post(client, f"/agents/digest/{route}", raw, {**headers, **AUTH})
                assert response.status_code == 422, (case, response.text)
                problems = response.json()["detail"]
                assert any(p["loc"] == loc and words in p["msg"] for p in problems), (case, problems)
        # Nothing was started, run or stopped by any of these.
        assert [s["total_attempts"] for s in client.get("/agents").json()] == [0, 0]
        assert app.news.calls == app.digest.calls == 0

        # What the routes do accept: run and stop take no body, or the empty object.
        response = post(client, "/agents/digest/start", b'{"schedule": "60"}', {"Content-Type": JSON, **AUTH})
        assert response.json() == {"started": True}
        for raw in (b"", b"{}"):
            assert post(client, "/agents/digest/run", raw, {"Content-Type": JSON, **AUTH}).status_code == 200
        assert client.post("/agents/digest/run", headers=AUTH).status_code == 200  # no body, no Content-Type
        wait_until(lambda: app.digest.calls >= 1)
        response = post(client, "/agents/digest/stop", b"{}", {"Content-Type": "application/merge-patch+json", **AUTH})
        assert response.status_code == 200 and response.json()["is_running"] is False
        # A huge number is judged like any other: this one is a valid number of attempts.
        huge = b'{"schedule": "60", "max_retries": 100000000000000000000000000000}'
        response = post(client, "/agents/digest/start", huge, {"Content-Type": JSON, **AUTH})
        assert response.json() == {"started": True}
        assert client.post("/agents/digest/stop", headers=AUTH).json()["is_running"] is False
    assert_clean_log(logs)


def raw_post(port: int, path: str, headers: dict[str, str]) -> str:
    """POST ``path`` announcing a 1 MB body but sending none; return the answer's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 1000000\r\n{head}\r\n".encode())
        return sock.makefile("rb").readline().decode().strip()


@pytest.mark.timeout(20)
def test_a_refused_request_is_answered_without_waiting_for_its_body(logs: pytest.LogCaptureFixture) -> None:
    app = App(start_news=False)
    with serve(app.app) as client:
        port = int(str(client.base_url).rsplit(":", 1)[1])
        # The body never comes: an answer proves the server did not read it (it would wait).
        for route in ROUTES:
            assert raw_post(port, f"/agents/digest/{route}", {}) == "HTTP/1.1 401 Unauthorized"
            assert raw_post(port, f"/agents/nope/{route}", {}) == "HTTP/1.1 401 Unauthorized"
            assert raw_post(port, f"/agents/nope/{route}", AUTH) == "HTTP/1.1 404 Not Found"
        assert app.digest.calls == 0
    assert_clean_log(logs)


@pytest.mark.timeout(20)
def test_a_dead_agent_is_409_for_control_and_keeps_its_last_stats(logs: pytest.LogCaptureFixture) -> None:
    system = ActorSystem(config={"max_restarts": 0})
    refs: list[AgentRef] = []
    app = FastAPI(lifespan=lifespan(system, on_startup=lambda s: refs.append(s.spawn(SyncAgent(), "t", name="a"))))
    app.include_router(router(system, token=TOKEN))
    with serve(app) as client:
        (ref,) = refs
        ref._binding.post(InjectFault(RuntimeError("bug in actor code")))  # type: ignore[union-attr]
        wait_until(lambda: not ref.is_alive)
        for path in ("run", "stop"):
            response = client.post(f"/agents/a/{path}", headers=AUTH)
            assert response.status_code == 409 and "dead" in response.json()["detail"]
        response = client.post("/agents/a/start", json={"schedule": "1"}, headers=AUTH)
        assert response.status_code == 409
        # The checks before it still come first: 401, then 422 for a bad body.
        for route in ROUTES:
            assert client.post(f"/agents/a/{route}", content=b"not json").status_code == 401
            response = client.post(f"/agents/a/{route}", content=b"not json", headers={"Content-Type": JSON, **AUTH})
            assert response.status_code == 422, response.text
        assert client.post("/agents/a/start", json={"schedule": "bogus"}, headers=AUTH).status_code == 422
        last = stats(client, "a")
        assert last["is_running"] is False and "bug in actor code" in last["last_error"]
        assert client.get("/agents").json() == [last]
    assert_clean_log(logs, allowed=("bug in actor code", "giving up", "is dead"))


def schema(openapi: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` into ``components/schemas``."""
    ref = node.get("$ref")
    if ref is None:
        return node
    found: dict[str, Any] = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def answer_schema(openapi: dict[str, Any], operation: dict[str, Any], status: str) -> dict[str, Any]:
    return schema(openapi, operation["responses"][status]["content"]["application/json"]["schema"])


# The stats keys users rely on (the docs' "How it works" table).
STATS_KEYS = {"name", "kind", "state", "is_running", "total_executions", "successful_executions",
              "failed_executions", "cancelled_executions", "success_rate", "total_attempts", "retries",
              "skipped_ticks", "abandoned_runs", "restarts", "last_run_at", "next_run_at", "last_error",
              "last_lateness_ms", "runtime_seconds"}


@pytest.mark.timeout(20)
def test_openapi_declares_the_bearer_scheme_every_error_and_typed_stats(logs: pytest.LogCaptureFixture) -> None:
    app = App()
    with serve(app.app) as client:
        openapi = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200  # Swagger UI, whose Authorize button reads the scheme

        # One bearer scheme; every POST route needs it, no GET route does.
        ((scheme_name, scheme),) = openapi["components"]["securitySchemes"].items()
        assert scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
        paths = openapi["paths"]
        posts = [paths[f"/agents/{{name}}/{route}"]["post"] for route in ROUTES]
        assert all(op["security"] == [{scheme_name: []}] for op in posts)
        assert "security" not in paths["/agents"]["get"] and "security" not in paths["/agents/{name}"]["get"]
        # What Authorize then sends ("Authorization: Bearer <token>") is what the routes accept.
        authorized = {"Authorization": f"{scheme['scheme'].title()} {TOKEN}"}
        assert client.post("/agents/digest/run", headers=authorized).status_code == 200

        # Typed errors: {"detail": str} for 401/404/409, FastAPI's problem list for 422.
        error = {"detail": {"type": "string"}}
        for op in posts:
            assert {"200", "401", "404", "409", "422"} <= op["responses"].keys()
            for status in ("401", "404", "409"):
                body = answer_schema(openapi, op, status)
                assert {k: {"type": v["type"]} for k, v in body["properties"].items()} == error
                assert body["required"] == ["detail"]
            problems = answer_schema(openapi, op, "422")["properties"]["detail"]
            assert {"loc", "msg", "type"} <= schema(openapi, problems["items"])["properties"].keys()
        assert "404" in paths["/agents/{name}"]["get"]["responses"]

        # Typed answers: stats for the GET routes and stop, {"started": bool} for start and run.
        stats_schema = answer_schema(openapi, paths["/agents/{name}"]["get"], "200")
        assert stats_schema["additionalProperties"] is True  # keys the runtime adds later pass through
        assert STATS_KEYS <= stats_schema["properties"].keys()
        assert stats_schema["properties"]["is_running"]["type"] == "boolean"
        assert stats_schema["properties"]["retries"]["type"] == "integer"
        assert "in flight" in stats_schema["properties"]["skipped_ticks"]["description"]  # what each key means
        listing = paths["/agents"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert listing["type"] == "array" and schema(openapi, listing["items"]) == stats_schema
        assert answer_schema(openapi, posts[2], "200") == stats_schema
        for op in posts[:2]:
            assert answer_schema(openapi, op, "200")["properties"]["started"]["type"] == "boolean"
        start_body = posts[0]["requestBody"]
        assert start_body["required"] is True
        start_schema = schema(openapi, start_body["content"]["application/json"]["schema"])
        assert start_schema["properties"].keys() == {"schedule", "max_retries", "run_immediately", "overlap", "catch_up",
                                                     "jitter", "max_runs", "pause_after_failures"}
        assert start_schema["required"] == ["schedule"] and start_schema["additionalProperties"] is False

        # The GET routes answer through the models: every key of the runtime's stats, same values.
        wait_until(lambda: app.news.calls >= 1)
        client.post("/agents/news/stop", headers=AUTH)
        served = stats(client, "news")
        assert served == app.refs[0].stats()
        assert STATS_KEYS <= served.keys()
        assert client.get("/agents").json() == [served, stats(client, "digest")]
    assert_clean_log(logs)


@pytest.mark.timeout(10)
def test_the_stats_model_keeps_keys_it_does_not_declare() -> None:
    with ActorSystem() as system:
        ref = system.spawn(SyncAgent(), "t", name="a")
        grown = {**ref.stats(), "paused_reason": "maintenance", "tokens_used": 12}
    assert AgentStats.model_validate(grown).model_dump(mode="json") == grown
    assert Started.model_validate({"started": True, "run_id": 7}).model_dump() == {"started": True, "run_id": 7}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failing_on_startup_fails_the_server_start_and_stops_what_it_spawned(
    kind: str, logs: pytest.LogCaptureFixture
) -> None:
    agent = AsyncAgent()
    system = ActorSystem()

    def spawn_then_fail(system: ActorSystem) -> None:
        system.spawn(agent, "t", name="early").tell(Start("0.02", run_immediately=True))
        raise RuntimeError("setup is broken")

    async def aspawn_then_fail(system: ActorSystem) -> None:
        system.spawn(agent, "t", name="early").tell(Start("0.02", run_immediately=True))
        while agent.calls < 1:
            await asyncio.sleep(0.005)
        raise RuntimeError("setup is broken")

    app = FastAPI(lifespan=lifespan(system, on_startup=spawn_then_fail if kind == "sync" else aspawn_then_fail))
    app.include_router(router(system, token=TOKEN))
    with pytest.raises(RuntimeError, match=r"did not start: \[SystemExit\(3\)\]"):
        with serve(app):
            pass  # pragma: no cover
    assert "setup is broken" in logs.text and "Application startup failed" in logs.text
    assert system.agents() == []
    calls = agent.calls
    assert_clean_log(logs, allowed=("setup is broken", "Application startup failed"))
    # Stopped for good: the system can be entered again (no half-entered state left behind).
    app2 = App()
    with serve(app2.app):
        wait_until(lambda: app2.news.calls >= 1)
    assert agent.calls == calls


@pytest.mark.timeout(20)
def test_agents_spawned_before_the_server_starts_are_refused_at_startup(logs: pytest.LogCaptureFixture) -> None:
    system = ActorSystem()
    early = system.spawn(SyncAgent(), "t", name="early")  # bound to a background loop, not uvicorn's
    app = FastAPI(lifespan=lifespan(system))
    try:
        with pytest.raises(RuntimeError, match="did not start"):
            with serve(app):
                pass  # pragma: no cover
        assert "spawn them inside it" in logs.text and early.is_alive
    finally:
        system.shutdown()
    assert_clean_log(logs, allowed=("spawn them inside it", "Application startup failed"))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("bad", [-1, float("nan"), "5", True])
def test_lifespan_validates_its_shutdown_timeout(bad: Any) -> None:
    with pytest.raises(ValueError, match="shutdown_timeout"):
        lifespan(ActorSystem(), shutdown_timeout=bad)


@pytest.mark.timeout(10)
def test_router_refuses_to_open_the_control_api_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    system = ActorSystem()
    monkeypatch.delenv("ACTORSCHED_TOKEN", raising=False)
    with pytest.raises(ValueError, match="ACTORSCHED_TOKEN"):
        router(system)
    with pytest.raises(ValueError, match="token"):
        router(system, token="")
    for blank in ("", "  \n"):
        monkeypatch.setenv("ACTORSCHED_TOKEN", blank)
        with pytest.raises(ValueError):
            router(system)
        with pytest.raises(ValueError):
            router(system, token=blank)
    monkeypatch.setenv("ACTORSCHED_TOKEN", "from-env")
    paths = {getattr(route, "path", None) for route in router(system).routes}
    assert paths == {"/agents", "/agents/{name}", "/agents/{name}/start", "/agents/{name}/run",
                     "/agents/{name}/stop", "/agents/{name}/history", "/agents/{name}/pause", "/agents/{name}/resume",
                     "/", "/healthz", "/metrics", "/events"}


@pytest.mark.timeout(10)
def test_import_actors_does_not_import_the_fastapi_integration() -> None:
    code = "import sys, actors; assert 'actors.fastapi' not in sys.modules and 'fastapi' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_cli(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.fastapi_app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.timeout(20)
def test_the_example_app_under_the_uvicorn_cli() -> None:
    port = free_port()
    env = {**os.environ, "ACTORSCHED_TOKEN": TOKEN}
    proc = uvicorn_cli(env, port)
    try:
        def agents() -> list[dict[str, Any]] | None:
            try:
                body: list[dict[str, Any]] = httpx.get(f"http://127.0.0.1:{port}/agents", timeout=2).json()
                return body
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                return None

        wait_until(lambda: (a := agents()) and a[0]["successful_executions"] >= 1, timeout=10)
        base = f"http://127.0.0.1:{port}/agents/digest"
        assert httpx.post(f"{base}/start", json={"schedule": "bogus"}, headers=AUTH).status_code == 422
        assert httpx.post(f"{base}/start", json={"schedule": "60"}).status_code == 401
        response = httpx.post(f"{base}/start", json={"schedule": "60", "run_immediately": True}, headers=AUTH)
        assert response.json() == {"started": True}
        wait_until(lambda: httpx.get(base).json()["successful_executions"] >= 1)
        assert [a["kind"] for a in agents() or []] == ["async", "sync"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Application shutdown complete" in stderr
    assert not any(err in stderr.lower() for err in LOOP_ERRORS + ("traceback", "error:")), stderr

    # Without a token, the example refuses to start and says why.
    env.pop("ACTORSCHED_TOKEN")
    proc = uvicorn_cli(env, free_port())
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode != 0 and "ACTORSCHED_TOKEN" in stderr

