# kubeplane: two commands do everything on a fresh Debian 12 machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the project runs: etcd; containerd, runc and the CNI plugins for nodes; iptables and
# iproute2 for networks; busybox-static and gcc to build the base images (busybox, pause).
DEB_PACKAGES := etcd-server etcd-client containerd runc containernetworking-plugins iptables iproute2 \
	busybox-static gcc docker-registry ipset
STAMP := $(VENV)/.installed

.PHONY: setup deb venv demo test test-unit test-integration bench lint fmt clean

setup: deb venv

deb:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@# The CRI v1 messages. Without its dependencies: it asks for protobuf 6, and its generated code
	@# imports under our protobuf 7 (protobuf only refuses generated code newer than the runtime).
	$(PY) -m pip install -q --disable-pip-version-check --no-deps container-runtime-interface-api==2.0.1
	@touch $@

demo: setup
	$(VENV)/bin/kubeplane demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

test-unit: setup
	$(PY) -m pytest -q tests/unit

test-integration: setup
	$(PY) -m pytest -q tests/integration

bench: setup
	$(PY) bench/apiserver.py

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
