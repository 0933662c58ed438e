"""`make screenshot`: photograph the real "Required actions" page of a labelling question.

After `make demo` (so the review queue holds lines): starts a second Airflow API server on a
free port with the simple auth manager in all-admins mode (this screenshot session only; the
project's stack keeps passwords on), runs the ``labelling`` DAG with ``dag.test()`` until its
questions wait, takes the picture with headless Chromium (Debian's ``chromium`` package),
then answers every question ``Skip`` so the run ends and nothing is labelled.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def shoot(url: str, out: Path, size: str = "1440,1000") -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={size}",
            "--virtual-time-budget=20000",
            f"--screenshot={out}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    print(f"screenshot: {out.relative_to(ROOT)}")


def main() -> int:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium (or set CHROMIUM)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    }
    bin_dir = Path(sys.executable).parent
    log = open(ROOT / "var" / "screenshot-api-server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [bin_dir / "airflow", "api-server", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    run = None
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        token = httpx.get(f"{base}/auth/token", timeout=10).json()["access_token"]
        api = httpx.Client(
            base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        run = subprocess.Popen(
            [
                bin_dir / "python",
                "-c",
                "from airflow.dag_processing.dagbag import DagBag; "
                f"DagBag(dag_folder='{ROOT / 'dags' / 'labelling.py'}')"
                ".get_dag('labelling').test(run_conf={'k': 5})",
            ],
            env=os.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        waiting: list[dict[str, Any]] = []
        for _ in range(240):
            waiting = api.get(
                "/dags/labelling/dagRuns/~/hitlDetails",
                params={"response_received": False, "limit": 100},
            ).json()["hitl_details"]
            if waiting:
                time.sleep(3)  # let every mapped question park
                waiting = api.get(
                    "/dags/labelling/dagRuns/~/hitlDetails",
                    params={"response_received": False, "limit": 100},
                ).json()["hitl_details"]
                break
            time.sleep(0.5)
        if not waiting:
            raise SystemExit("no labelling questions appeared: run `make demo` first")
        ti = waiting[0]["task_instance"]
        page = (
            f"/dags/labelling/runs/{quote(ti['dag_run_id'], safe='')}/tasks/ask/mapped/"
            f"{ti['map_index']}/required_actions"
        )
        OUT.mkdir(exist_ok=True)
        login = f"{base}/auth/token/login?next={quote(base + page, safe='')}"
        shoot(login, OUT / "labelling-question.png", "1440,1250")
        # answer Skip to everything this run asks, until it ends: nothing gets labelled
        deadline = time.monotonic() + 180
        while run.poll() is None and time.monotonic() < deadline:
            for detail in api.get(
                "/dags/labelling/dagRuns/~/hitlDetails",
                params={"response_received": False, "limit": 100},
            ).json()["hitl_details"]:
                t = detail["task_instance"]
                api.patch(
                    f"/dags/labelling/dagRuns/{t['dag_run_id']}/taskInstances/ask/"
                    f"{t['map_index']}/hitlDetails",
                    json={"chosen_options": ["Skip"], "params_input": {}},
                )
            time.sleep(1)
        return 0
    finally:
        if run is not None and run.poll() is None:
            run.kill()
        server.terminate()
        server.wait(20)
        log.close()


if __name__ == "__main__":
    sys.exit(main())
