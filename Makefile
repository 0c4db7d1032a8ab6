# Fimble: `make run` installs and starts the app; `make test` installs and runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
LLAMA  := llama-cpp-python>=0.3.36
STAMP  := $(VENV)/.llama-cmake-args

# llama-cpp-python compiles llama.cpp from source. The default CPU build is
# portable: AVX2 without -march=native, because native builds on CPUs that
# report AMX crash in virtual machines that do not enable it. For a GPU build
# pass e.g. CMAKE_ARGS="-DGGML_CUDA=on" (see README); the build is redone
# whenever CMAKE_ARGS changes.
ifeq ($(shell uname -m),x86_64)
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
else
CMAKE_ARGS ?=
endif

.PHONY: run check test bench package package-test llama llama-server install install-test install-package clean

$(PY):
	$(PYTHON) -m venv $(VENV)

llama: $(PY)
	@if [ "$$(cat $(STAMP) 2>/dev/null)" != "$(CMAKE_ARGS)" ]; then \
		echo "Building llama-cpp-python with CMAKE_ARGS='$(CMAKE_ARGS)' (several minutes)"; \
		CMAKE_ARGS="$(CMAKE_ARGS)" $(PIP) install --no-cache-dir --force-reinstall --no-deps "$(LLAMA)" && \
		$(PIP) install "$(LLAMA)" && \
		echo "$(CMAKE_ARGS)" > $(STAMP); \
	fi

# llama.cpp's own llama-server, built from the llama.cpp sources inside the
# installed llama-cpp-python's source distribution (for the remote-engine
# tests; several minutes, skipped when already built for that version).
LLAMA_SERVER_DIR := build/llama-server

llama-server: llama
	sh tests/support/build_llama_server.sh $(PY) $(LLAMA_SERVER_DIR) $(CMAKE_ARGS)

install: llama
	$(PIP) install -e ".[starter]"

install-test: llama
	$(PIP) install -e ".[test,starter]"

run: install
	$(PY) -m app

# Lint, format and type checks come first: they take seconds and name the line.
check: install-test
	$(PY) -m ruff check app tests bench packaging
	$(PY) -m ruff format --check app tests bench packaging
	$(PY) -m mypy

# The remote-engine tests also run against llama.cpp's own llama-server (built
# once, about 10 minutes on two cores); here they fail rather than skip without it.
test: check llama-server
	QT_QPA_PLATFORM=offscreen FIMBLE_REQUIRE_LLAMA_SERVER=1 $(PY) -m pytest -q -m "not package"

install-package: llama
	$(PIP) install -e ".[test,starter,package]"

# The one-folder app in dist/Fimble (plus a .tar.gz, and an AppImage when
# appimagetool is installed). Bundle the starter model with
# `make package PACKAGE_ARGS=--with-starter`.
package: install-package
	$(PY) packaging/build.py $(PACKAGE_ARGS)

package-test: install-package
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m package

bench: install
	QT_QPA_PLATFORM=offscreen $(PY) -m bench startup --json

clean:
	rm -rf $(VENV) build dist *.egg-info
