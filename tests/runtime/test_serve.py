"""The recommender on a real Ray Serve app over HTTP on 127.0.0.1: routes, bad input, token, hot reload, config.

One module-scoped Serve app (Serve takes ~10-20 s to start on 2 cores); Serve and Ray are shut down at the end.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from raytp.cli import main as cli_main
from raytp.errors import RaytpError
from raytp.serving.recommender import Recommender
from raytp.rundir import RunDir
from tests.recommender_runs import BAD_REQUESTS, write_run

TOKEN = "serve-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "serve_config.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("serve_runs")
    write_run(base / "a", seed=11, searches=("pruned", "full"))
    write_run(base / "b", seed=22)
    RunDir(base / "empty", create=True).write_json("notes.json", {})
    return {k: str(base / k) for k in ("a", "b", "empty")}


def _deploy_config(run_dir: str, port: int, user_config: dict | None = None):
    """deploy/serve_config.yaml as `serve deploy` would apply it, pointed at a test run dir and port.

    The token reaches the replicas through the application's runtime_env (the replica reads RAYTP_API_TOKEN).
    """
    from ray.serve.schema import ServeDeploySchema
    raw = yaml.safe_load(CONFIG.read_text())
    raw["http_options"]["port"] = port
    application = raw["applications"][0]
    application["args"]["run_dir"] = run_dir
    application["runtime_env"] = {"env_vars": {"RAYTP_API_TOKEN": TOKEN}}
    if user_config is not None:
        application["deployments"][0]["user_config"] = user_config
    return ServeDeploySchema.model_validate(raw)


@pytest.fixture(scope="module")
def app(runs):
    import ray
    from ray import serve
    from ray.serve.context import _get_global_client
    if not ray.is_initialized():
        from raytp.runtime.cluster import prepare_ray_auth
        prepare_ray_auth(local=True)
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    client = _get_global_client()

    def deploy(run_dir: str, user_config: dict | None = None) -> None:
        client.deploy_apps(_deploy_config(run_dir, port, user_config), _blocking=True)

    deploy(runs["a"])
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, headers=AUTH, timeout=10.0) as http:
        yield {"url": url, "client": http, "deploy": deploy}
    serve.shutdown()
    ray.shutdown()


def test_raytp_serve_command_serves_until_ctrl_c(runs, tmp_path):
    """`raytp serve` in a subprocess (its own throwaway Ray): answers on 127.0.0.1, stops cleanly on SIGINT.

    Runs before the module's Serve app starts, so only one Ray cluster is up at a time."""
    import os
    import signal
    import subprocess
    import sys
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYTP_API_TOKEN")}
    log = (tmp_path / "serve.log").open("w")
    # as from a terminal: a suite started in the background by a non-interactive shell ignores SIGINT, and an
    # ignored SIGINT is inherited (Python then installs no KeyboardInterrupt handler in the child)
    proc = subprocess.Popen([sys.executable, "-m", "raytp.cli", "serve", "--run", runs["a"], "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        url, answer = f"http://127.0.0.1:{port}", None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.post(f"{url}/v1/recommend", json={"target": "water", "k": 2}, timeout=5.0)
                if answer.status_code == 200 and "serving 6 tasks" in (tmp_path / "serve.log").read_text():
                    break  # deployed, and serve.run has returned
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        assert answer is not None and answer.status_code == 200, (tmp_path / "serve.log").read_text()[-2000:]
        assert answer.json() == Recommender.from_run_dir(runs["a"]).recommend("water", 2)
        _assert_local_only(port)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
    assert "stopping" in (tmp_path / "serve.log").read_text()


def _listening_ports(low: int, high: int) -> list[int]:
    """TCP ports in [low, high] listening on any IPv4 address, from /proc/net/tcp."""
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        port = int(local.split(":")[1], 16)
        if state == "0A" and low <= port <= high:
            ports.add(port)
    return sorted(ports)


def _own_lan_ip() -> str | None:
    """This machine's non-loopback IPv4 address (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def _assert_local_only(port: int) -> None:
    """A server started for 127.0.0.1 answers nobody else: its public port is not reachable on other addresses,
    and each replica's own HTTP server (HAProxy ingress, ports 30000-31000) is unreachable or answers 403."""
    ip = _own_lan_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address to test from")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{ip}:{port}/healthz", timeout=5.0)
    replica_ports = _listening_ports(30000, 31000)
    assert replica_ports, "expected HAProxy ingress: a replica HTTP server on a port in 30000-31000"
    for p in replica_ports:
        try:
            r = httpx.post(f"http://{ip}:{p}/v1/recommend", json={"target": "water", "k": 2}, timeout=5.0)
        except httpx.ConnectError:
            continue  # bound to loopback only
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_raytp_serve_rejects_bad_input_before_starting_ray(runs, capsys):
    assert cli_main(["serve", "--run", runs["empty"]]) == 2
    assert "no single_task.json" in capsys.readouterr().err
    assert cli_main(["serve", "--run", runs["a"], "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_routes_answer_like_the_recommender(app, runs):
    c, rec = app["client"], Recommender.from_run_dir(runs["a"])
    assert c.get("/healthz").json() == {"status": "ok", "tasks": len(rec.tasks())}
    assert c.get("/v1/tasks").json() == {"tasks": rec.tasks()}
    r = c.post("/v1/recommend", json={"target": "shelter", "k": 4})
    assert r.status_code == 200 and r.json() == rec.recommend("shelter", 4)
    assert {x["basis"] for x in r.json()["recommendations"]} == {"measured"}
    assert c.get("/v1/pairs/water/shelter").json() == rec.pair("water", "shelter")
    assert c.get("/v1/run").json()["run_dir"] == runs["a"]
    assert c.get("/docs").status_code == 200
    assert "/v1/recommend" in c.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_json_4xx(app, case):
    _, method, path, kwargs, status, code = case
    r = app["client"].request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_token_is_required_on_v1_only(app):
    with httpx.Client(base_url=app["url"], timeout=10.0) as anon:
        assert anon.get("/healthz").status_code == 200
        for headers in ({}, {"Authorization": "Bearer nope"}):
            r = anon.post("/v1/recommend", json={"target": "food"}, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert anon.get("/v1/pairs/food/water").status_code == 401


def test_cli_recommend_asks_the_service(app, runs, capsys):
    assert cli_main(["recommend", "--url", app["url"], "--target", "food", "--k", "2", "--json",
                     "--token", TOKEN]) == 0
    import json
    assert json.loads(capsys.readouterr().out) == Recommender.from_run_dir(runs["a"]).recommend("food", 2)
    assert cli_main(["recommend", "--url", app["url"], "--target", "pizza", "--token", TOKEN]) == 2
    assert "unknown target task 'pizza'" in capsys.readouterr().err
    assert cli_main(["recommend", "--url", app["url"], "--target", "food"]) == 2  # no token
    assert "401" in capsys.readouterr().err


def test_hot_reload_switches_run_without_failed_requests(app, runs):
    rec_a, rec_b = (Recommender.from_run_dir(runs[k]) for k in "ab")
    assert rec_a.recommend("food", 5) != rec_b.recommend("food", 5)
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=app["url"], headers=AUTH, timeout=10.0) as c:
            while not stop.is_set() and len(statuses) < 20_000:
                try:
                    statuses.append(c.post("/v1/recommend", json={"target": "food", "k": 5}).status_code)
                except httpx.HTTPError:
                    statuses.append(-1)
                time.sleep(0.01)

    t = threading.Thread(target=hammer, daemon=True)
    t.start()
    try:
        time.sleep(0.5)
        n_before = len(statuses)
        # what `serve deploy` does when only the deployment's user_config changes: reconfigure() in place
        app["deploy"](runs["a"], user_config={"run_dir": runs["b"]})
        c = app["client"]
        for _ in range(100):  # bounded: reconfigure has finished when serve.run returns; allow for routing lag
            if c.get("/v1/run").json()["run_dir"] == runs["b"]:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        # a reload whose run dir is unusable keeps the previous run (logged), and nothing fails
        app["deploy"](runs["a"], user_config={"run_dir": runs["empty"]})
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(timeout=15)
    assert len(statuses) > n_before > 0
    assert set(statuses) == {200}, f"failed requests during reload: {[s for s in statuses if s != 200][:5]}"
    assert c.get("/v1/run").json()["run_dir"] == runs["b"]
    assert c.post("/v1/recommend", json={"target": "food", "k": 5}).json() == rec_b.recommend("food", 5)


def test_build_app_rejects_bad_args(runs):
    from raytp.runtime.serve import build_app
    with pytest.raises(RaytpError, match="run_dir"):
        build_app({})
    with pytest.raises(RaytpError, match="no single_task.json"):
        build_app({"run_dir": runs["empty"]})
    with pytest.raises(RaytpError, match="loopback_only"):
        build_app({"run_dir": runs["a"], "loopback_only": "yes"})


def test_serve_config_is_a_valid_serve_deploy_config(runs):
    from ray.serve.schema import ServeDeploySchema

    from raytp.runtime.serve import APP_NAME, DEPLOYMENT_NAME, build_app
    cfg = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text()))
    assert cfg.http_options.host == "127.0.0.1"
    (application,) = cfg.applications
    assert application.name == APP_NAME and application.import_path == "raytp.runtime.serve:build_app"
    assert set(application.args) == {"run_dir", "loopback_only"} and application.args["loopback_only"] is True
    assert [d.name for d in application.deployments] == [DEPLOYMENT_NAME]
    d = application.deployments[0]
    assert d.health_check_period_s > 0 and d.health_check_timeout_s > 0 and d.autoscaling_config["max_replicas"] >= 1
    # the import path resolves to the builder, and the app it builds has the deployment the config overrides
    module, attr = application.import_path.split(":")
    import importlib
    built = getattr(importlib.import_module(module), attr)({**application.args, "run_dir": runs["a"]})
    assert built._bound_deployment.name == DEPLOYMENT_NAME
    assert built._bound_deployment.init_kwargs["loopback_only"] is True


def test_slow_unauthenticated_bodies_do_not_hold_the_replica(app):
    """64 clients without a token promise 64 KiB bodies and stall after 11 bytes: each gets 401 from the request
    head, and other clients are answered within 1 s while the 64 are still connected (issue 20)."""
    port = int(app["url"].rsplit(":", 1)[1])
    head = (b"POST /v1/recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 65536\r\n\r\n{\"target\": ")
    socks = []
    try:
        for _ in range(64):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(head)
            socks.append(s)
        latencies = []
        for _ in range(10):
            t = time.monotonic()
            assert app["client"].post("/v1/recommend", json={"target": "water", "k": 2}).status_code == 200
            latencies.append(time.monotonic() - t)
        assert max(latencies) < 1.0, latencies
        statuses = []
        for s in socks:
            s.settimeout(10)
            try:
                statuses.append(s.recv(64).split(b" ", 2)[1])
            except (socket.timeout, ConnectionError, IndexError):
                statuses.append(None)
        assert statuses == [b"401"] * 64, statuses
    finally:
        for s in socks:
            s.close()


def test_serve_already_running_with_other_http_options_is_refused(app, runs):
    """serve.start keeps a running Serve's HTTP options and only warns: run_local compares and refuses."""
    from raytp.runtime.serve import run_local
    port = int(app["url"].rsplit(":", 1)[1])
    for host, p in (("0.0.0.0", port), ("127.0.0.1", _free_port())):
        with pytest.raises(RaytpError, match="already running on this cluster with HTTP on 127.0.0.1"):
            run_local(runs["b"], host=host, port=p)
    assert app["client"].get("/v1/tasks").status_code == 200  # the running app was left alone


def test_report_page_through_serve_with_the_token(app):
    with httpx.Client(base_url=app["url"], timeout=30.0) as c:
        assert c.get("/").status_code == 401
        r = c.get(f"/?token={TOKEN}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert 'id="verdicts"' in r.text and 'id="heatmap"' in r.text
        assert c.get("/report", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
