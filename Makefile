# make run   : create .venv if needed, then run the notebooks (quick profile) headless
# make test  : create .venv if needed, then unit tests + notebook checks (nbval)
# make notebooks : refresh the stored smoke outputs in notebooks/ in place
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2
export MPLBACKEND := Agg

.PHONY: run test notebooks venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m tsad_helpers run --profile $(PROFILE) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval-lax --sanitize-with tests/nbval_sanitize.cfg

notebooks: $(STAMP)
	$(PY) -m tsad_helpers refresh-notebooks

clean:
	rm -rf $(VENV)
