"""The worker allocator setting: applied once, in a fresh process, with the same training results."""
import json
import subprocess
import sys

SCRIPT = """
import json, sys
import torch
torch.manual_seed(0)
from raytp.models.allocator import retain_freed_memory
applied = retain_freed_memory() if sys.argv[1] == "retain" else False
again = retain_freed_memory() if applied else False
w = torch.randn(2000, 64, requires_grad=True)
opt = torch.optim.Adam([w], lr=0.01)
for step in range(20):
    big = torch.randn(300_000, 64)  # an allocation over glibc's default mmap threshold, freed each step
    loss = (w @ w.T).sum() * 1e-6 + big[:2000].mul(w).sum() * 1e-3
    opt.zero_grad(); loss.backward(); opt.step()
print(json.dumps({"applied": applied, "again": again, "sum": float(w.detach().double().sum())}))
"""


def _run(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_retained_memory_changes_nothing_but_the_allocator():
    retain, default = _run("retain"), _run("default")
    if sys.platform.startswith("linux"):
        assert retain["applied"] and retain["again"]
    assert retain["sum"] == default["sum"]


def test_the_setting_is_a_documented_resource_key():
    from raytp.config import load_config
    assert load_config(None, {}).resources.retain_freed_memory is True
    assert load_config(None, {"resources.retain_freed_memory": False}).resources.retain_freed_memory is False


THREADS = """
import resource, sys, threading
import torch
from raytp.models.allocator import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def trial():  # what a Tune trial does: a new thread, large and small tensors, all freed at the end
    big = [torch.randn(300_000, 64) for _ in range(4)]
    small = [torch.randn(1000, 64) for _ in range(2000)]
    del big, small
for _ in range(12):
    t = threading.Thread(target=trial); t.start(); t.join()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_trials_in_new_threads_do_not_grow_the_process():
    """Tune runs each trial in a new thread: with freed memory kept, one arena must serve them all."""
    def peak(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", THREADS, mode], capture_output=True, text=True, timeout=300,
                             check=True)
        return int(out.stdout.strip().splitlines()[-1])
    retained, default = peak("retain"), peak("default")
    assert retained <= default * 1.15 + 50, (retained, default)
