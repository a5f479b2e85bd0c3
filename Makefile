# The two set-up commands of the README: `make demo` and `make test`.
# Each creates its own virtualenv in $(VENV) and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

PHOTOS := china.jpg flower.jpg astronaut.png chelsea.png coffee.png
MADE   := gradient.png one-colour.png five-colours.png

.PHONY: demo test bench pipeline-demo clean help

help:
	@echo "make demo   - install into $(VENV) and quantize samples/ into $(OUT)/"
	@echo "make test   - install with test extras (and Chromium, for the report page) and run"
	@echo "              the test suite"
	@echo "make pipeline-demo - run the example Makefile pipeline samples/Makefile into out/pipeline/"
	@echo "make bench  - install the bench extra and pngquant, time quantize against"
	@echo "              cv2, scikit-learn, scipy, Pillow and pngquant, measure dithering against"
	@echo "              pngquant's and the quality corpus (BENCH_ARGS=--quick; python -m"
	@echo "              benchmarks.dither / benchmarks.corpus for those parts alone)"
	@echo "make clean  - remove $(VENV) and out/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps record what was installed; they are redone when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	@touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[bench]'
	@touch $@

demo: $(VENV)/.installed-run
	@mkdir -p $(OUT)
	@set -e; for f in $(PHOTOS) $(MADE); do \
	  stem=$${f%.*}; \
	  $(BIN)/quantize image samples/$$f -k 16 -o $(OUT)/$$stem-k16.png \
	      --codebook $(OUT)/$$stem-k16.json --json; \
	done
	@set -e; for f in $(PHOTOS); do \
	  stem=$${f%.*}; \
	  $(BIN)/quantize image samples/$$f -k 64 --mode reconstruct -o $(OUT)/$$stem-k64.jpg -q; \
	done
	@echo
	@echo "Quantized samples are in $(OUT)/:"
	@echo "  *-k16.png   palette PNGs with 16 colours, *-k16.json their codebooks"
	@echo "  *-k64.jpg   reconstructed images with 64 colours"

# Installs the command $(1) from the Debian package $(2) when it is missing (as
# root, or with sudo that needs no password); when it cannot, says so ($(3))
# and goes on.
define apt_install
command -v $(1) >/dev/null 2>&1 || { \
  sudo=; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
  export DEBIAN_FRONTEND=noninteractive; \
  echo "make $@: $(1) is missing; installing it with apt-get"; \
  $$sudo apt-get install -y -q $(2) >/dev/null 2>&1 \
  || { $$sudo apt-get update -q >/dev/null 2>&1 \
       && $$sudo apt-get install -y -q $(2) >/dev/null 2>&1; } \
  || echo "make $@: could not install $(2); $(3)"; }
endef

# Headless Chromium opens the page of `batch --html` in the tests.
test: $(VENV)/.installed-test
	@$(call apt_install,chromium,chromium,the report page is not tested in a browser)
	$(BIN)/python -m pytest -q

# The example Make pipeline of samples/Makefile (pattern rules and a shared
# palette), into out/pipeline/; run it twice and the second has nothing to do.
# The test suite runs the same Makefile in a temporary copy.
pipeline-demo: $(VENV)/.installed-run
	$(MAKE) -C samples -j2 QUANTIZE=$(abspath $(BIN))/quantize OUT=$(abspath out/pipeline)

# Speed, quality and memory against the other tools, then dithering (blurred
# MSE and flat-area noise of --dither against pngquant's default dithering on
# the corpus images, exactness checks, 12 MP timing) and the quality corpus
# (MSE against cv2.kmeans, pngquant and full k-means on the corpus images); the
# other tools' results are cached in benchmarks/.cache/, so only the first run
# computes them; writes benchmarks/RESULTS.md. Not part of `make test`.
# Options: make bench BENCH_ARGS="--quick" (or --huge, --no-corpus, --corpus-only,
# --no-dither, --dither-only, -k 16,64, ...; see `$(BIN)/python -m benchmarks.run --help`).
BENCH_ARGS ?=
bench: $(VENV)/.installed-bench
	@$(call apt_install,pngquant,pngquant,its column is left out)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.dask_overhead
	$(BIN)/python -m benchmarks.batch_throughput
	$(BIN)/python -m benchmarks.startup
	$(BIN)/python -m benchmarks.compression

clean:
	rm -rf $(VENV) out samples/out
