"""Run by tests/k8s/test_k8s_readonly_root.py inside a private mount namespace whose root is read-only, with only the
manifests' writable mounts writable: what the image's processes do, there. Prints one JSON line (last line).

    python -m tests.k8s.readonly_probe OUT_DIR STAGES     STAGES: comma-separated of embed, ray, serve
"""

from __future__ import annotations

import glob
import json
import os
import socket
import sys
import time
import urllib.request


def _root_is_read_only() -> bool:
    try:
        with open("/home/ray/probe-write-test", "w"):
            return False
    except OSError as e:
        return e.errno == 30  # EROFS


def _embed_and_train(out: str) -> dict:
    """A frozen-encoder embedding (HF tokenizer + model, raytp's embedding cache), a torch backward pass, a
    matplotlib figure: the model-side writers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from raytp.models.encoders import embed_texts, embedding_cache_dir
    emb = embed_texts(["we need water", "food please", "roads flooded"], max_length=16)
    layer = torch.nn.Linear(emb.shape[1], 2)
    layer(torch.from_numpy(emb)).sum().backward()
    fig = plt.figure()
    plt.plot([0, 1], [1, 0])
    fig.savefig(os.path.join(out, "plot.png"))
    return {"embedding_shape": list(emb.shape), "embedding_cache": len(os.listdir(embedding_cache_dir()))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(out: str, stages: list[str]) -> dict:
    res: dict = {"root_read_only": _root_is_read_only()}
    if "embed" in stages:
        res["embed"] = _embed_and_train(out)
    if "ray" in stages or "serve" in stages:
        from raytp.runtime.serve_env import apply_serve_env
        apply_serve_env()  # before Ray starts, as `raytp serve` and the RayService pods do (HAProxy ingress)
        import ray
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            if "ray" in stages:
                res["ray_task"] = ray.get(ray.remote(_embed_and_train).remote(out), timeout=300)
            if "serve" in stages:
                from ray import serve

                from raytp.runtime.serve import run_local
                from tests.recommender_runs import write_run
                write_run(os.path.join(out, "run"))
                url = run_local(os.path.join(out, "run"), port=_free_port(), token="readonly-probe-token-0123456789")
                status, deadline = None, time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as r:
                            status = r.status
                            break
                    except OSError:
                        time.sleep(1)
                res["serve_status"] = status
                # HAProxy's files live in the private directory apply_serve_env made for this start
                hap = os.path.dirname(os.environ.get("RAY_SERVE_HAPROXY_CONFIG_FILE_LOC", "/tmp/haproxy-serve/x"))
                res["haproxy_files"] = sorted(os.path.relpath(os.path.join(d, f), hap)
                                              for d, _, files in os.walk(hap) for f in files)
                serve.shutdown()
        finally:
            ray.shutdown()
        logs = glob.glob("/tmp/ray/session_*/logs/*")
        res["ray_logs"] = len(logs)
        res["read_only_errors_in_ray_logs"] = [
            os.path.basename(p) for p in logs if os.path.isfile(p) and "Read-only file system" in
            open(p, errors="replace").read()]
    return res


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2].split(","))))
