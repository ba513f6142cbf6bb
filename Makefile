# bridge: the two newcomer commands (`make demo`, `make test`) and helpers. See README.md.

SWIFT ?= swift
APT_PACKAGES := libopenblas-dev liblz4-dev libxxhash-dev pkg-config

.PHONY: deps build release test demo bench clean

# Installs the system libraries when any is missing (Debian/Ubuntu; uses sudo when not root).
deps:
	@tools/install-deps.sh $(APT_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The whole suite on the kernel bridge picks, a short fuzzing pass over every parser of outside
# bytes (tools/fuzz.sh --quick: a few seconds per target; fails on any crash), then the numeric
# targets under every OpenBLAS kernel this CPU runs (tools/test-kernels.sh), then the format checks.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	@SWIFT=$(SWIFT) tools/fuzz.sh --quick
	@SWIFT=$(SWIFT) tools/test-kernels.sh
	@tools/check-schemas.sh

demo: release
	@tools/demo.sh

clean:
	rm -rf .build
