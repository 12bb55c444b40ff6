# The two commands the README promises: `make demo` and `make test`.
# Both set everything up first (scripts/setup is idempotent).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup test unit integration molecule demo lab-down bench lint

setup:
	./scripts/setup

unit: setup
	pytest -q tests/unit

integration: setup
	pytest -q tests/integration

test: setup
	pytest -q tests/unit tests/integration

demo: setup
	./scripts/demo

bench: setup
	python bench/run.py
