"""raytp: which task pairs are worth training together.

The Python API (``raytp.api``) is re-exported here: ``raytp.load_config``, ``raytp.train``, ``raytp.read_results``,
``raytp.run_config`` (imported on first use, so ``import raytp`` stays light)."""

import os
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_config", "read_results", "run_config", "train"]

# Offline by default (the bundled data and model need no network; no usage reports), set before transformers or Ray
# are imported; values already in the environment win.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "RAY_USAGE_STATS_ENABLED": "0"}
for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)


def __getattr__(name: str) -> Any:
    if name in __all__:
        from raytp import api
        return getattr(api, name)
    raise AttributeError(f"module 'raytp' has no attribute {name!r}")
