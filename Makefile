# SimpleDet: two commands set everything up on a fresh machine.
#   make demo   fetch pinned dependencies, build, run the main job on the built-in data
#   make test   fetch pinned dependencies, build, run the whole test suite
.PHONY: deps build demo demo-classifier test consumer-example docs bench-foundation fuzz clean

SWIFT ?= swift

deps:
	@scripts/bootstrap.sh

build: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) build -c release --product simpledet
	scripts/demo.sh

# The first demo: a small CNN that tells the synthetic shapes apart (seconds).
demo-classifier: deps
	$(SWIFT) build -c release --product simpledet-demo
	.build/release/simpledet-demo

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel --num-workers 2
	SWIFT=$(SWIFT) scripts/consumer_example.sh

# Examples/DetectShapes, a package depending on SimpleDet by version, built and run (part of test).
consumer-example: deps
	SWIFT=$(SWIFT) scripts/consumer_example.sh

# API documentation (DocC) of the public modules: .build/docs/SimpleDet.doccarchive, a static site.
docs: deps
	SWIFT=$(SWIFT) scripts/docs.sh

# libFuzzer harnesses of the file readers (Fuzzing/), FUZZ_SECONDS each (docs/contributing.md).
# Not part of test: it fails when a harness finds a crash, a hang or an unbounded allocation.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

bench-foundation: deps
	benchmarks/foundation.sh

clean:
	rm -rf .build
