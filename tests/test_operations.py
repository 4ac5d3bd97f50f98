"""The router's operations routes under a real uvicorn server: /metrics (read back with
prometheus_client's own parser, equal to the stats), /healthz, /events (server-sent events)
and the dashboard page, in a real headless Chromium where the machine has one."""

from __future__ import annotations

import json
import logging
import shutil
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from actors import ActorSystem, GetStats, RunNow, Start
from actors._health import stalled
from actors.fastapi import lifespan, router
from tests.test_fastapi import AUTH, TOKEN, assert_clean_log, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
XSS = "<script>window.pwned=1</script>"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


class Flaky:
    """Fails every third call with an error that holds markup."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, task: str) -> str:
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError(f"upstream 503 {XSS}")
        return f"summary of {task}"


def build(read_only: bool = False) -> tuple[FastAPI, ActorSystem]:
    system = ActorSystem()

    def setup(system: ActorSystem) -> None:
        system.spawn(Flaky(), task="news", name="summariser", config={"backoff": {"initial": 0.01, "cap": 0.01}})
        system.spawn(lambda task: task, task="t", name="idle-agent")

    app = FastAPI(lifespan=lifespan(system, on_startup=setup))
    app.include_router(router(system, token=None if read_only else TOKEN, read_only=read_only))
    return app, system


def run_once(client: httpx.Client, name: str) -> dict[str, Any]:
    """Start the agent on a long schedule, run it once, and wait for that run to be in its history."""
    before = client.get(f"/agents/{name}").json()["total_executions"]
    client.post(f"/agents/{name}/start", json={"schedule": "every 1 hour"}, headers=AUTH)
    assert client.post(f"/agents/{name}/run", headers=AUTH).json() == {"started": True}
    for _ in range(500):
        stats: dict[str, Any] = client.get(f"/agents/{name}").json()
        if stats["total_executions"] > before:
            return stats
    raise AssertionError("the run never ended")


@pytest.mark.timeout(30)
def test_metrics_parse_with_prometheus_and_equal_the_stats(logs: pytest.LogCaptureFixture) -> None:
    app, _ = build()
    with serve(app) as client:
        for _ in range(4):
            stats = run_once(client, "summariser")
        response = client.get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(response.text) for s in family.samples}
        agent = (("agent", "summariser"),)
        assert samples[("actorsched_executions_total", (*agent, ("outcome", "succeeded")))] == \
            stats["successful_executions"] == 4
        assert samples[("actorsched_attempts_total", agent)] == stats["total_attempts"] == 5  # one retry
        assert samples[("actorsched_retries_total", agent)] == stats["retries"] == 1
        assert samples[("actorsched_agents", (("state", "idle"),))] == 1  # the summariser waits for its tick
        assert samples[("actorsched_agents", (("state", "stopped"),))] == 1  # idle-agent was never started
        # The histograms count the runs finished since the first scrape: one more run shows in both.
        run_once(client, "summariser")
        again = {(s.name, tuple(sorted(s.labels.items()))): s.value
                 for family in text_string_to_metric_families(client.get("/metrics").text) for s in family.samples}
        assert again[("actorsched_run_duration_seconds_count", agent)] == 1
        assert again[("actorsched_executions_total", (*agent, ("outcome", "succeeded")))] == 5
    assert_clean_log(logs)


@pytest.mark.timeout(30)
def test_healthz_is_ok_while_every_started_agent_is_due_or_running(logs: pytest.LogCaptureFixture) -> None:
    app, _ = build()
    with serve(app) as client:
        run_once(client, "summariser")
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "agents": 2, "running": 1, "stalled": []}
    assert_clean_log(logs)


def test_an_idle_agent_overdue_past_the_margin_is_stalled_and_others_are_not() -> None:
    base = {"is_running": True, "state": "idle", "next_run_at": 100.0}
    all_stats = [
        {**base, "name": "due-soon"},
        {**base, "name": "overdue", "next_run_at": 90.0},
        {**base, "name": "no-next", "next_run_at": None},
        {**base, "name": "in-a-run", "state": "running", "next_run_at": 10.0},
        {**base, "name": "paused", "state": "paused", "next_run_at": None},
        {**base, "name": "stopped", "is_running": False, "state": "stopped", "next_run_at": None},
    ]
    found = stalled(all_stats, now=100.0, stall_after=5.0)
    assert [f["name"] for f in found] == ["overdue", "no-next"]
    assert "due 10.0s ago" in found[0]["reason"]
    assert stalled(all_stats[:1], now=104.9, stall_after=5.0) == []  # within the margin


@pytest.mark.timeout(30)
def test_events_stream_each_run_as_json(logs: pytest.LogCaptureFixture) -> None:
    app, _ = build()
    with serve(app) as client:
        client.post("/agents/summariser/start", json={"schedule": "every 1 hour"}, headers=AUTH)
        seen: list[dict[str, Any]] = []
        with client.stream("GET", "/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            client.post("/agents/summariser/run", headers=AUTH)
            for line in lines:
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["type"] == "RunFinished":
                        break
        assert [e["type"] for e in seen] == ["RunStarted", "RunFinished"]
        assert seen[1]["agent"] == "summariser" and seen[1]["outcome"] == "succeeded"
        assert seen[1]["result"] == "'summary of news'" and seen[0]["run_id"] == seen[1]["run_id"]
    assert_clean_log(logs)


@pytest.mark.timeout(30)
def test_a_read_only_server_needs_no_token_and_refuses_every_control(logs: pytest.LogCaptureFixture) -> None:
    app, _ = build(read_only=True)
    with serve(app) as client:
        for action in ("start", "run", "stop", "pause", "resume"):
            response = client.post(f"/agents/summariser/{action}", json={"schedule": "every 1s"}, headers=AUTH)
            assert response.status_code == 403 and response.json() == {"detail": "this server is read-only"}
        assert client.get("/agents/summariser").json()["is_running"] is False  # nothing changed
        assert client.get("/").status_code == 200
    assert_clean_log(logs)


@pytest.mark.timeout(30)
def test_the_dashboard_ships_in_the_package_and_loads_nothing_from_elsewhere(logs: pytest.LogCaptureFixture) -> None:
    app, _ = build()
    with serve(app) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        text = page.text
        assert "<style>" in text and "EventSource" in text and "/*DASHBOARD_CSS*/" not in text
        outside = text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace is a name, not a load
        assert "http://" not in outside and "https://" not in outside
        assert ".innerHTML" not in text  # every value from the server is set as text
        assert "/" in client.get("/openapi.json").json()["paths"]
    assert_clean_log(logs)


# -- in a real browser ----------------------------------------------------------------------
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)")


@needs_browser
@pytest.mark.timeout(60)
def test_the_dashboard_in_chromium_fills_runs_with_the_token_and_fits_a_phone(
    logs: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    app, system = build()
    with serve(app) as client, playwright.sync_playwright() as pw:
        url = str(client.base_url)
        client.post("/agents/summariser/start", json={"schedule": "every 1 hour", "max_retries": 1}, headers=AUTH)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url + "/")
            row = page.locator("tr[data-agent='summariser']")
            row.wait_for()
            assert "every 1 hour" in row.inner_text() and "idle" in row.inner_text()
            assert page.locator("#sum-agents").inner_text() == "2"
            page.locator("#live[data-mode='live']").wait_for()  # the event stream is open

            # A wrong token: the server's 401 shows, and nothing ran.
            row.locator("button[data-action='run']").click()
            page.fill("#token-input", "not-the-token")
            page.click("#token-save")
            page.locator("#toast.bad").wait_for()
            assert "invalid bearer token" in page.inner_text("#toast")
            assert client.get("/agents/summariser").json()["total_executions"] == 0

            # The right token: a run appears in the history, pushed by the event stream.
            row.click()
            row.locator("button[data-action='run']").click()
            page.fill("#token-input", TOKEN)
            page.click("#token-save")
            page.locator("#history tr[data-run='1']").wait_for()
            assert "succeeded" in page.inner_text("#history tr[data-run='1']")
            assert page.evaluate("sessionStorage.getItem('actorsched-token')") == TOKEN
            assert TOKEN not in page.url

            # Markup in an error is shown as text, never run.
            for _ in range(2):
                row.locator("button[data-action='run']").click()
                page.locator(f"#history tr[data-run='{_ + 2}']").wait_for()
            page.locator("#history tr[data-run='3'] .error").wait_for()
            assert XSS in page.inner_text("#history tr[data-run='3']")
            assert page.evaluate("window.pwned") is None
            assert errors == []

            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.goto(url + "/")
            phone.locator("tr[data-agent='summariser']").wait_for()
            phone.locator("tr[data-agent='summariser']").click()
            phone.locator("#history tr[data-run='3']").wait_for()
            phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
            width, inner = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width <= inner, f"the page scrolls sideways at phone width: {width} > {inner}"
        finally:
            browser.close()
    assert_clean_log(logs)


def test_a_stats_snapshot_names_its_schedule() -> None:
    with ActorSystem() as system:
        ref = system.spawn(lambda task: task, task="t", name="a")
        assert ref.ask(GetStats())["schedule"] is None
        ref.tell(Start("every 1 hour"))
        ref.ask(RunNow())
        assert ref.ask(GetStats())["schedule"] == "every 1 hour"
