# The two commands the README promises: `make demo` and `make test`.
# Both set everything up first (scripts/setup is idempotent).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup test lint sanity test-newer unit integration lab molecule demo lab-down bench \
	changelog reliability importer docs role-readmes ee test-mixed

lint: setup
	ruff check .
	ansible-lint
	antsibull-changelog lint
	./scripts/sanity

# ansible-test sanity, empty ignore file, on a copy under ansible_collections/cloudnet/vswitch
# (~30 s once its per-test venvs are cached in .venv/ansible-test-home; ~3 min the first time).
sanity: setup
	./scripts/sanity

# Sanity and unit tests on ansible-core 2.21 / pyenv's Python 3.13 (~45 s; ~4 min the first time).
test-newer: setup
	./scripts/test-newer

setup:
	./scripts/setup

# galaxy-importer (Galaxy's and Automation Hub's upload check) on the built tarball, in its own
# venv .venv/importer (~30 s; ~40 s more the first time). Fails on any error or warning but the
# two empty-ignore-file notes.
importer: setup
	./scripts/importer

# The docs site (antsibull-docs + Sphinx): build/docsite/build/html/index.html (~30 s).
docs: setup
	./scripts/docs

# The example execution environment's build context (execution-environment.yml) in ./context,
# from the tarball built here; no container engine (`ansible-builder build` makes the image).
ee: setup
	ansible-galaxy collection build --force .
	ansible-builder create --file execution-environment.yml --context context

# Each role's README.md from its meta/argument_specs.yml (the generated section only).
role-readmes: setup
	python scripts/role_readmes

unit: setup
	pytest -q tests/unit

integration: setup
	pytest -q tests/integration

lab: setup
	pytest -q tests/lab -m 'not lab10'

# Molecule gets a HOME of its own (docs/lab.md, trap 9).
molecule: setup
	HOME=$(CURDIR)/$(VENV)/molecule-home molecule test --all

test: setup
	ruff check .
	ansible-lint
	antsibull-changelog lint
	./scripts/sanity
	./scripts/importer
	./scripts/docs --lint
	./scripts/test-newer
	pytest -q tests/unit tests/integration tests/lab -m 'not lab10'
	pytest -q -p no:cacheprovider tests/reliability -m 'fast or reboot'
	HOME=$(CURDIR)/$(VENV)/molecule-home molecule test --all

# Reliability figures (issue 7, docs/reliability.md): the sandbox part (also in CI), then the
# lab part under the shared lab's lock; both run, then docs/reliability.md is written.
reliability: setup
	pytest -q -p no:cacheprovider tests/reliability -m fast; fast=$$?; \
	flock /run/cnlab-agents.lock pytest -q -p no:cacheprovider tests/reliability -m 'lab and not mixed' \
	  --write-doc; lab=$$?; \
	exit $$(( fast || lab ))

# scripts/demo runs scripts/setup itself (so `setup: ready` is said once).
demo:
	./scripts/demo

# The lab scripts/demo started: LAB_DIR as for the demo (default ./lab).
LAB_DIR ?= $(CURDIR)/lab
lab-down: setup
	ansible-playbook -i localhost, playbooks/lab_down.yml -e lab_dir=$(LAB_DIR)

# The mixed-version fleet (docs/reliability.md): one lab host on Debian 13 (trixie) beside
# Debian 12 ones; debootstraps the root once (~100 s, ~400 MB, cached), then ~1 min.
test-mixed: setup
	flock /run/cnlab-agents.lock pytest -q -p no:cacheprovider tests/reliability -m mixed

bench: setup
	python bench/run.py

# CHANGELOG.rst for galaxy.yml's version from every fragment (kept: keep_fragments is true, so
# re-running while that version is unreleased picks up new and edited fragments and modules).
changelog: setup
	antsibull-changelog lint
	antsibull-changelog release --version $$(sed -n 's/^version: *//p' galaxy.yml) \
	  --refresh --reload-plugins
