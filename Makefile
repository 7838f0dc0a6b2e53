# The two commands of the README: `make run` and `make test`. Python 3.11 + pip is all they assume.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
ADDRESS ?= 127.0.0.1

.PHONY: run test test-fast bench samples clean chromium

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed  ## install and start the app on http://127.0.0.1:8501 (works offline)
	$(PY) -m explorer.ui.serve --server.address $(ADDRESS) --server.port $(PORT)

chromium:  # Debian's browser for the browser tests (Playwright's own download does not work here)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

test: $(VENV)/.installed-dev chromium  ## install what the tests need and run the whole suite
	$(PY) -m pytest

test-fast: $(VENV)/.installed-dev  ## everything but the real-browser tests
	$(PY) -m pytest -m "not browser"

bench: $(VENV)/.installed
	$(PY) bench/kernel_lab.py
	$(PY) bench/layer_by_layer.py
	$(PY) bench/receptive_field.py
	$(PY) bench/top_activations.py
	$(PY) bench/visualize.py
	$(PY) bench/attacks.py
	$(PY) bench/attributions.py
	$(PY) bench/first_step.py
	$(PY) bench/train_speed.py

samples: $(VENV)/.installed  ## regenerate the test-pattern images in assets/samples
	$(PY) scripts/make_samples.py

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
