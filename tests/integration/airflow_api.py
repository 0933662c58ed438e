"""A real Airflow API server on this project's metadata DB, for tests that act as a user.

It is started as its own process (``airflow api-server``) with the simple auth manager on and
a password file made by the test; requests carry a JWT from ``/auth/token``, exactly as the UI
and any API client do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.integration.pipeline_env import free_port

USER = "admin"


class AirflowAPI:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.client = httpx.Client(
            base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def patch(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.patch(path, json=body)

    def waiting_questions(self, dag_id: str) -> list[dict[str, Any]]:
        """Human-in-the-loop requests of ``dag_id`` that nobody has answered yet."""
        found = self.get(
            f"/dags/{dag_id}/dagRuns/~/hitlDetails", response_received=False, limit=100
        )
        return list(found["hitl_details"])

    def answer(
        self, detail: dict[str, Any], chosen: list[str], params_input: dict[str, Any]
    ) -> httpx.Response:
        """Answer one request the way the Required actions form does."""
        ti = detail["task_instance"]
        path = (
            f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/"
            f"{ti['task_id']}/{ti['map_index']}/hitlDetails"
        )
        return self.patch(path, {"chosen_options": chosen, "params_input": params_input})


@contextmanager
def api_server(tmp: Path) -> Iterator[AirflowAPI]:
    port = free_port()
    password = "test-" + os.urandom(6).hex()
    passwords = tmp / "passwords.json"
    passwords.write_text(json.dumps({USER: password}))
    env = {
        **os.environ,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
    }
    log = (tmp / "api-server.log").open("w")
    airflow = str(Path(sys.executable).with_name("airflow"))
    proc = subprocess.Popen(
        [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"api-server exited: {(tmp / 'api-server.log').read_text()}")
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("api-server did not become healthy within 120 s")
            time.sleep(0.5)
        response = httpx.post(
            f"{base}/auth/token", json={"username": USER, "password": password}, timeout=10
        )
        response.raise_for_status()
        yield AirflowAPI(base, response.json()["access_token"])
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
