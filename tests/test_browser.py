"""Notebook 00 in a real JupyterLab, driven by headless Chromium (Playwright).

papermill never renders widgets, so it cannot see a 3-D view that fails in the
browser. Here JupyterLab is started from this environment on a local port, a
copy of notebook 00 is opened and run in Chromium, and the test asserts what a
user sees: no cell error, no widget error in the browser console, a WebGL
canvas for every nglview view, and the figures. Screenshots go to
``runs/browser/`` (override with ``ZIFHELPERS_BROWSER_SHOTS``).

Needs Debian's ``chromium`` (Playwright's own browser download cannot be reached
from the project's machines): ``apt-get install chromium``; ``.ci/run`` does this
when it runs as root. Without a browser the test is skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "00_data_and_models.ipynb"
N_VIEWS = 2  # nglview views in notebook 00: the crystal and glass01


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if _chromium() is None:
        pytest.skip("no chromium on this machine: `apt-get install chromium` (Debian) enables "
                    "the browser test of the notebooks' 3-D views")
    pytest.importorskip("playwright", reason="pip install playwright (the test extra)")
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / "notebooks" / NOTEBOOK)
    port, token = _free_port(), "zifhelpers-browser-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / "config"),
           "JUPYTER_RUNTIME_DIR": str(root / "runtime")}
    log = open(root / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True",
         "--allow-root"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {(root / 'jupyterlab.log').read_text()}") from None
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("JupyterLab did not open its port within 120 s")
    yield f"http://127.0.0.1:{port}/lab/tree/notebooks/{NOTEBOOK}?token={token}", root
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_notebook_00_runs_and_renders_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    url, root = lab
    shots = Path(os.environ.get("ZIFHELPERS_BROWSER_SHOTS", ROOT / "runs" / "browser"))
    shots.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=_chromium(), headless=True,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                  "--ignore-gpu-blocklist"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
        page.goto(url)
        page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')",
                               timeout=120_000)
        page.wait_for_timeout(3000)  # let the kernel start before running every cell
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # done when no prompt shows [*] and the last code cell has an execution count
        page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                return prompts.length > 0 && prompts.every(p => !p.textContent.includes('*'))
                       && prompts[prompts.length - 1].textContent.match(/\\[\\d+\\]/);
            }""", timeout=900_000, polling=2000)
        page.wait_for_timeout(5000)  # widgets draw after the kernel is idle
        errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
                              ).all_inner_texts()
        tracebacks = [e for e in errors if "Traceback" in e or "Error" in e.split("\n")[0]]
        widget_errors = page.get_by_text("Click to show javascript error").count()
        canvases = page.evaluate(
            """() => [...document.querySelectorAll('.jp-OutputArea-output canvas')]
                    .filter(c => c.width > 0 && c.height > 0).length""")
        images = page.locator('.jp-OutputArea-output img').count()
        page.screenshot(path=str(shots / "notebook00_top.png"))
        views = page.locator('.jp-OutputArea-output canvas')
        for k in range(min(views.count(), N_VIEWS)):
            views.nth(k).scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / f"notebook00_view{k + 1}.png"))
        browser.close()
    (shots / "console.log").write_text("\n".join(console) + "\n")
    assert not tracebacks, f"cell errors in the browser: {tracebacks}"
    bad = [m for m in console if "not registered" in m or "nglview" in m.lower() and "error" in m]
    assert not bad, f"widget errors in the browser console: {bad}"
    assert widget_errors == 0, f"{widget_errors} widget(s) show 'Click to show javascript error'"
    assert canvases >= N_VIEWS, f"{canvases} WebGL canvases drawn, expected {N_VIEWS} 3-D views"
    assert images >= 1, "no figure in the outputs"
