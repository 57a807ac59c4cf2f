# make run   : create .venv if needed, then run the notebooks (quick profile) headless
# make test  : create .venv if needed, then unit tests + notebook checks (nbval)
# make notebooks : refresh the stored smoke outputs in notebooks/ in place
# make paper : rebuild paper/ (Markdown, Typst, PDF) from the committed results
# make lock : re-pin constraints.txt after editing requirements.txt
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 3
export MPLBACKEND := Agg

.PHONY: run test notebooks paper venv lock clean

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m tsad_helpers run --profile $(PROFILE) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval-lax --sanitize-with tests/nbval_sanitize.cfg

notebooks: $(STAMP)
	$(PY) -m tsad_helpers refresh-notebooks

paper: $(STAMP)
	$(PY) -m tsad_helpers paper

# after editing requirements.txt: resolve in a scratch venv and pin every package
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -r requirements.txt
	{ echo "# Every installed package at an exact version, so a fresh environment is the tested one."; \
	  echo "# Regenerate after changing requirements.txt: make lock"; \
	  .venv-lock/bin/pip freeze --exclude-editable; } > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV)
