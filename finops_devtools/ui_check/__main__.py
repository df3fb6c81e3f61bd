"""`python -m finops_devtools.ui_check [--out DIR]`: see the module docstring of the package.

Exit 0 with the screenshots' paths printed, or 1 with one line saying why. `dg dev` is always stopped.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from finops_devtools.ui_check import logic
from finops_devtools.ui_check.logic import CheckFailed

PROJECT = Path(__file__).resolve().parents[2]  # where pyproject.toml, dagster.yaml and workspace.yaml are
BIN = Path(sys.executable).parent
VIEWPORT = {"width": 1600, "height": 1000}
TALL = {"width": 1900, "height": 1500}  # the lineage is tall: groups stack top to bottom


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{base}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.load(answer)


def _last_log_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
    return logic.one_line(lines[-1], 300) if lines else "(no output)"


def _wait_for_location(base: str, server: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    state, message = "loading", None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed(f"dg dev exited with code {server.returncode} before the UI answered: {_last_log_line(log)}")
        try:
            state, message = logic.location_state(_graphql(base, logic.WORKSPACE_QUERY, timeout=10))
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            state = "loading"  # the webserver is not listening yet
        if state == "error":
            raise CheckFailed(f"code location {logic.LOCATION} did not load: {message}")
        if state == "loaded":
            return
        time.sleep(1)
    raise CheckFailed(f"code location {logic.LOCATION} not loaded after {timeout:.0f}s (see {log})")


def _materialize(base: str, first, last, timeout: float) -> str:
    run_id = logic.launched_run_id(_graphql(base, logic.LAUNCH_MUTATION, {"params": logic.launch_params(first, last)}))
    print(f"launched {logic.MATERIALIZE_JOB} for {first}..{last}: run {run_id}", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = logic.run_state(_graphql(base, logic.RUN_QUERY, {"runId": run_id}))
        if state.retry_run_id:  # Dagster retries a failed run once (dagster.yaml): follow the retry
            print(f"run {run_id} failed ({_failure(base, run_id)}); following its retry {state.retry_run_id}",
                  flush=True)
            run_id = state.retry_run_id
        elif state.finished:
            if state.status != "SUCCESS":
                raise CheckFailed(f"run {run_id} ended {state.status}: {_failure(base, run_id)}")
            return run_id
        elif state.status == "STARTED":
            dead = logic.slot_held_by_dead_step(_graphql(base, logic.LOGS_QUERY, {"runId": run_id}),
                                                _graphql(base, logic.POOL_QUERY, {"pool": logic.POOL}), run_id)
            if dead:
                raise CheckFailed(f"run {run_id} cannot finish: step {dead}'s process died without an event and "
                                  f"still holds the only {logic.POOL} pool slot (its stderr is in the dg dev log)")
        time.sleep(2)
    raise CheckFailed(f"run {run_id} still {state.status} after {timeout:.0f}s"
                      + (" (queued: a concurrency pool slot may be held; see the run's page)"
                         if state.status == "QUEUED" else ""))


def _failure(base: str, run_id: str) -> str:
    return logic.failure_reason(_graphql(base, logic.LOGS_QUERY, {"runId": run_id}))


def _screenshots(base: str, out: Path, chromium: str, page_timeout_ms: int) -> list[Path]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    urls = logic.page_urls(base, logic.asset_groups(_graphql(base, logic.GROUPS_QUERY)))
    # What proves each page has drawn its content (not a spinner): text that only the loaded page shows.
    ready = {
        "lineage": ["text=cost_anomalies"],  # nodes outside the view are not drawn until zoomed out
        "cost_anomalies": ["text=cost_anomalies", "text=Latest materialization"],
        "cost_anomalies_events": ["text=Materialized"],
        "launchpad": [".CodeMirror", "text=Launch run"],
    }
    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            for name, url in urls.items():
                page = browser.new_page(viewport=TALL if name == "lineage" else VIEWPORT, device_scale_factor=1)
                in_flight: set = set()
                page.on("request", lambda r, s=in_flight: s.add(r))
                page.on("requestfinished", lambda r, s=in_flight: s.discard(r))
                page.on("requestfailed", lambda r, s=in_flight: s.discard(r))
                page.goto(url, wait_until="domcontentloaded", timeout=page_timeout_ms)
                try:
                    for selector in ready[name]:
                        page.locator(selector).first.wait_for(state="visible", timeout=page_timeout_ms)
                    if name == "lineage":
                        _zoom_to_fit(page)
                    _settle(page, in_flight, page_timeout_ms)
                    _wait_for_images(page, page_timeout_ms)
                except PlaywrightTimeout as exc:
                    shot = out / f"{name}.timeout.png"
                    page.screenshot(path=str(shot))
                    shown = _error_text(page)
                    raise CheckFailed(f"{name} page ({url}) did not render"
                                      + (f", it shows {shown!r}" if shown else f": {logic.one_line(exc, 200)}")
                                      + f"; see {shot}") from None
                broken = _error_text(page)
                shot = out / f"{name}.png"
                page.screenshot(path=str(shot), full_page=True)
                if broken:
                    raise CheckFailed(f"{name} page ({url}) shows an error: {broken}; see {shot}")
                saved.append(shot)
                if name == "cost_anomalies_events":
                    chart = _open_markdown(page, "control_charts", out / "cost_anomalies_chart.png", in_flight,
                                           page_timeout_ms)
                    if chart:
                        saved.append(chart)
                    else:
                        print("note: cost_anomalies' materialization has no control_charts entry", flush=True)
                page.close()
        finally:
            browser.close()
    return saved


def _zoom_to_fit(page, clicks: int = 10) -> None:
    """Zoom the lineage out (its own zoom-out button) until the whole graph is inside its viewport:
    it opens at a fixed zoom, and nodes outside the view are not even drawn."""
    fits = """() => { const svg = Array.from(document.querySelectorAll('svg'))
                        .sort((a, b) => b.getBoundingClientRect().height - a.getBoundingClientRect().height)[0];
                      const g = svg.getBoundingClientRect(), v = svg.parentElement.parentElement.getBoundingClientRect();
                      return g.height <= v.height && g.width <= v.width; }"""
    zoom_out = page.locator('button:has([aria-label="zoom_out"])').first
    for _ in range(clicks):
        if page.evaluate(fits):
            return
        zoom_out.click()
        page.wait_for_timeout(250)  # the zoom animates; no event marks its end


def _open_markdown(page, entry: str, shot: Path, in_flight: set, timeout_ms: int) -> Path | None:
    """Open a Markdown metadata entry ("[Show Markdown]" in its row) and photograph the dialog once its
    images have loaded; None when the materialization has no such entry."""
    row = page.locator("tr", has=page.get_by_text(entry, exact=True))
    if not row.count():
        return None
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 3200})  # the dialog is as tall as the window
    row.first.get_by_text("Show Markdown").click()
    dialog = page.locator("[role=dialog]").first
    dialog.wait_for(state="visible", timeout=timeout_ms)
    _settle(page, in_flight, timeout_ms)
    _wait_for_images(page, timeout_ms)
    dialog.screenshot(path=str(shot))
    return shot


def _settle(page, in_flight: set, timeout_ms: int, quiet_ms: int = 1000) -> None:
    """Wait until no request has been in flight for quiet_ms (the UI polls live data every 2 s, so
    the network goes quiet between polls). Playwright's "networkidle" only covers the first load;
    this also covers what a zoom or a tab asks for afterwards."""
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)  # lets Playwright deliver the request events
        if in_flight:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_ms / 1000:
            return
    raise CheckFailed(f"the page at {page.url} never stopped loading ({len(in_flight)} requests in flight)")


def _wait_for_images(page, timeout_ms: int) -> None:
    """Every <img> on the page has loaded (the control charts are images in the Markdown metadata)."""
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=timeout_ms)


def _error_text(page) -> str | None:
    for text in ("Something went wrong", "Unexpected GraphQL error", "PythonError", "Page not found",
                 "Pipeline not found", "Asset not found"):
        if page.get_by_text(text, exact=False).count():
            return text
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finops_devtools.ui_check", description=__doc__)
    parser.add_argument("--out", default="/tmp/ui-check", help="folder for the PNGs (default: %(default)s)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium",
                        help="the Chromium binary (default: %(default)s; Debian's package `chromium`)")
    parser.add_argument("--load-timeout", type=float, default=240, help="seconds for the code location to load")
    parser.add_argument("--run-timeout", type=float, default=900, help="seconds for the sample's run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance, sample and log")
    args = parser.parse_args(argv)

    # Signals ignored by a non-interactive parent are inherited as ignored, and dg dev would then not
    # shut down on SIGINT: with handlers here, the child starts with the defaults.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    work = Path(tempfile.mkdtemp(prefix="ui-check-"))
    server = None
    try:
        if not Path(args.chromium).exists():
            raise CheckFailed(f"no Chromium at {args.chromium}: apt-get install chromium (Debian), or pass --chromium")
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            raise CheckFailed(f"the playwright package is missing: {BIN}/python -m pip install -e '.[ui]'") from None
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.png"):
            old.unlink()
        data, home, warehouse, log = work / "data", work / "dagster_home", work / "warehouse" / "finops.duckdb", work / "dg-dev.log"
        home.mkdir()
        warehouse.parent.mkdir()
        # The repo's instance settings (pools, retries), less the UI's first-visit newsletter dialog.
        (home / "dagster.yaml").write_text((PROJECT / "dagster.yaml").read_text() + "\nnux:\n  enabled: false\n")
        generated = subprocess.run([str(BIN / "finops-assets"), "generate-sample", "--out", str(data), "--seed", "7"],
                                   capture_output=True, text=True)
        if generated.returncode:
            raise CheckFailed(f"generate-sample failed: {logic.one_line(generated.stderr or generated.stdout)}")
        first, last = logic.sample_range(json.loads((data / "ground_truth.json").read_text()))

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = logic.child_env(dict(os.environ), str(home), str(data), str(warehouse))
        with log.open("w") as sink:
            server = subprocess.Popen([str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
                                      cwd=PROJECT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, process_group=0)
        print(f"dg dev on {base} (instance {home}, log {log})", flush=True)
        _wait_for_location(base, server, log, args.load_timeout)
        print(f"code location {logic.LOCATION} loaded", flush=True)
        run_id = _materialize(base, first, last, args.run_timeout)
        print(f"run {run_id} succeeded", flush=True)
        for shot in _screenshots(base, out, args.chromium, page_timeout_ms=60_000):
            print(shot, flush=True)
        return 0
    except CheckFailed as exc:
        print(f"ui-check failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ui-check interrupted", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C or TERM must not leave dg dev running
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            _stop(server)
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop(server: subprocess.Popen) -> None:
    """SIGINT to dg dev's process group (it shuts down the webserver, daemon and code servers), then KILL."""
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGINT:  # the leader is gone; make sure nothing of its group outlives it
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return


if __name__ == "__main__":
    sys.exit(main())
