# Slipway: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
TESTENV := tests/testenv/testenv
TESTENV_DIR ?= $(CURDIR)/target/testenv
export TESTENV_DIR

.PHONY: test unit cluster lint msrv crds build image-build image run bench reliability testenv-up testenv-down

## test: every check and every test, unit and cluster (builds the control plane if missing)
test: lint msrv unit cluster

## lint: formatting and clippy, warnings are errors
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p slipway-tests --features cluster --all-targets -- -D warnings

## msrv: the workspace checked with the toolchain of Cargo.toml's rust-version, which the
## locked dependencies need (rustup installs it, once)
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
msrv:
	rustup toolchain install $(MSRV) --profile minimal
	cargo +$(MSRV) check --workspace --all-targets --locked --target-dir target/msrv
	cargo +$(MSRV) check -p slipway-tests --features cluster --all-targets --locked --target-dir target/msrv

## unit: tests that need no cluster (includes the CRD drift test)
unit:
	cargo test --workspace

## cluster: first alone the test of the test control plane itself (three at once, the host
## left as it was); then one control plane with kwok's node and the real node up, the
## operator's and the builder's images pushed to its registry, the cluster tests (with the
## reliability suite's quick subset), then alone the fault tests that restart the API server
## and etcd and stop the real node's kubelet and containerd, the control plane down (even on
## failure)
cluster: build image-build
	$(TESTENV) build
	cargo test -p slipway-tests --features cluster --no-run
	cargo test -p slipway-tests --features cluster --test testenv -- --ignored
	$(TESTENV) up
	status=0; export KUBECONFIG=$(TESTENV_DIR)/kubeconfig; \
	  { $(TESTENV) image operator && $(TESTENV) image builder; } >/dev/null || status=$$?; \
	  [ $$status -ne 0 ] || cargo test -p slipway-tests --features cluster -- --test-threads=2 || status=$$?; \
	  if [ $$status -eq 0 ]; then cargo test -p slipway-tests --features cluster --test faults --test deaf -- --ignored || status=$$?; fi; \
	  if [ $$status -eq 0 ]; then cargo test -p slipway-tests --features cluster --test node_faults -- --ignored --test-threads=1 || status=$$?; fi; \
	  if [ $$status -ne 0 ]; then $(TESTENV) logs; fi; $(TESTENV) down; exit $$status

## reliability: the whole reliability suite (faults, races, bad input, secrecy) on a control
## plane of its own; rewrites the tables of RELIABILITY.md
RELIABILITY_TESTENV_DIR := $(CURDIR)/target/testenv-reliability
RELIABILITY_TESTS := --test badinput --test crash --test race --test race_paths --test secrecy --test drift
reliability: build
	$(TESTENV) build
	cargo test -p slipway-tests --features cluster $(RELIABILITY_TESTS) --test load --test faults --test deaf --test node_faults --no-run
	@export TESTENV_DIR=$(RELIABILITY_TESTENV_DIR) KUBECONFIG=$(RELIABILITY_TESTENV_DIR)/kubeconfig SLIPWAY_RELIABILITY=full; \
	  trap '$(TESTENV) down' EXIT; trap 'exit 130' INT TERM; \
	  $(TESTENV) up && \
	  cargo test -p slipway-tests --features cluster $(RELIABILITY_TESTS) -- --test-threads=2 && \
	  cargo test -p slipway-tests --features cluster --test load && \
	  cargo test -p slipway-tests --features cluster --test faults --test deaf -- --ignored && \
	  cargo test -p slipway-tests --features cluster --test node_faults -- --ignored --test-threads=1 || { $(TESTENV) logs; exit 1; }

## run: a local control plane, the operator and the example app; Ctrl-C stops everything
run: build
	$(TESTENV) build
	TESTENV_DIR=$(CURDIR)/target/testenv-run examples/run

## build: the operator and CLI binaries the cluster tests run; kubectl-slipway, kubectl's
## plugin name for the CLI, is a link to convox
build:
	cargo build --bins
	ln -sf convox target/debug/kubectl-slipway

## image-build: the release build of the operator that its image holds (its git revision in
## slipway_build_info)
image-build:
	SLIPWAY_REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
	  cargo build --release --locked -p slipway-operator --bin slipway-operator

## image: the operator's image without a container engine, pushed to IMAGE (a registry
## reference; crane logs in with ~/.docker/config.json), e.g. make image IMAGE=ghcr.io/me/slipway-operator:0.1.0
image: image-build
	$(TESTENV) build
	@[ -n "$(IMAGE)" ] || { echo "make image IMAGE=<registry>/<repository>:<tag>"; exit 2; }
	$(TESTENV) image operator $(IMAGE)

## bench: the benchmarks (release builds) on a control plane of their own, the operator as the
## chart's ServiceAccount (helm template of charts/slipway); writes BENCHMARKS.md. A missed goal
## does not fail; sizes come from BENCH_* variables (see BENCHMARKS.md's Reproduce).
BENCH_TESTENV_DIR := $(CURDIR)/target/testenv-bench
bench:
	cargo build --release --bins
	cargo build --release -p slipway-tests --features cluster --bin bench
	$(TESTENV) build
	@export TESTENV_DIR=$(BENCH_TESTENV_DIR) KUBECONFIG=$(BENCH_TESTENV_DIR)/kubeconfig; \
	  trap '$(TESTENV) down' EXIT; trap 'exit 130' INT TERM; \
	  $(TESTENV) up && $(TESTENV) image builder >/dev/null && target/release/bench

## crds: regenerate charts/slipway/crds from the types in crds/
crds:
	cargo run -q -p slipway-operator --bin crdgen

testenv-up:
	$(TESTENV) build
	$(TESTENV) up

testenv-down:
	$(TESTENV) down
