# Everything runs from the project's own virtualenv, created from the pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= local
ARGS ?=

.PHONY: venv tools plan docs test lint unit e2e e2e-ready bench inventory clean
# Real programs that read the generated files (nginx, compose, promtool ...), installed by tests/tools/install.sh.
CLINICAL_TOOLS ?= $(HOME)/.cache/clinical-platform/tools
export CLINICAL_TOOLS
export CLINICAL_TOOLS_BIN := $(CLINICAL_TOOLS)/bin

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## make tools: Debian packages and unpacked trixie tools the consumer tests and `make e2e` run (as root; idempotent)
tools:
	bash tests/tools/install.sh

## make plan [STACK=local] [ARGS=--json]: offline plan of Pulumi.$(STACK).yaml (no CLI, cloud or Docker)
plan: venv
	$(PY) -m offline.plan --stack $(STACK) $(ARGS)

## make docs: regenerate the README's configuration reference from the config models (offline/config_reference.py),
## its preview-blind rules, the policy coverage against checkov and cdk-nag (docs/policy-coverage.md) and each
## system's traceability matrix in docs/systems/<system>.md (offline/traceability.py)
docs: venv
	$(PY) -m offline.config_reference
	$(PY) -m offline.preview_blind
	$(PY) -m offline.policy_coverage
	$(PY) -m offline.traceability

## make test: lint, type-check and the whole test suite (what CI runs)
test: tools lint unit

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: venv
	$(PY) -m pytest -q

## make e2e: local and lab deployed by the real Pulumi CLI on a real dockerd (stand-in images where registries are
## unreachable), checked, previewed clean and destroyed; needs `pulumi` and its plugins (see README) and root for dockerd
e2e: tools venv
	$(PY) -m pytest -m e2e -s tests/e2e $(ARGS)

## make kube-tools: the Kubernetes control plane the kube e2e tests run (kube-apiserver, kube-controller-manager and
## kube-scheduler built from tests/e2e/kube, kwok, etcd) in KUBE_BIN; skipped when present at that version. Not part of
## make e2e: the first build takes about 10 minutes on 2 cores (as root for etcd's Debian package)
KUBE_VERSION := v1.34.4
KWOK_VERSION := v0.8.0
KUBE_BIN ?= $(HOME)/.cache/clinical-platform/kube/bin
KUBE_CMDS := kube-apiserver kube-controller-manager kube-scheduler
KUBE_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean
.PHONY: kube-tools
kube-tools:
	@mkdir -p $(KUBE_BIN)
	@stale=; for cmd in $(KUBE_CMDS); do $(KUBE_BIN)/$$cmd --version 2>/dev/null | grep -qx "Kubernetes $(KUBE_VERSION)" \
		|| stale=1; done; \
	if [ -z "$$stale" ]; then echo "kube-tools: control plane $(KUBE_VERSION) already in $(KUBE_BIN)"; \
	else echo "kube-tools: building the control plane $(KUBE_VERSION) (about 10 minutes)"; cd tests/e2e/kube && CGO_ENABLED=0 go build -ldflags '$(KUBE_LDFLAGS)' -o $(KUBE_BIN)/ \
		$(addprefix k8s.io/kubernetes/cmd/,$(KUBE_CMDS)); fi
	@if $(KUBE_BIN)/kwok --version 2>/dev/null | grep -q "$(KWOK_VERSION)"; then echo "kube-tools: kwok $(KWOK_VERSION) already in $(KUBE_BIN)"; \
	else GOBIN=$(KUBE_BIN) go install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION); fi
	@command -v etcd >/dev/null || (apt-get update && apt-get install -y etcd-server)
	@for cmd in $(KUBE_CMDS) kwok etcd; do printf '%s: ' $$cmd; PATH="$(KUBE_BIN):$$PATH" $$cmd --version | head -n 1; done

## make e2e-ready: exit 0 when the Pulumi CLI and the plugins make e2e needs are installed (says what is missing)
e2e-ready: venv
	@$(PY) -m tests.e2e.engine

## make inventory: regenerate tests/inventory/<stack>.yaml and tests/golden/<stack>/ (pinned outputs) after an
## intended change; the unit tests compare every shipped stack against them
inventory: venv
	$(PY) -m offline.inventory --write

## make bench [ARGS=--real]: plan time and resource count of every shipped stack (repeated runs, min/median);
## --real adds the real CLI's preview/up/destroy times of local (dockerd) and cluster (the kube harness)
bench: venv
	$(PY) -m offline.bench $(ARGS)

## make ci-plan [CI_OUT=out/ci] [BASE=<folder of base-branch plan JSONs>]: what the pull-request job runs offline:
## plan JSON and review of every shipped stack, merged SARIF, and the PR comment (CI_OUT/comment.md); exit 1 if any fails
CI_OUT ?= out/ci
BASE ?=
SHIPPED_STACKS = $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
# The review sub-make gets -o: this target already made the venv, which must not be rebuilt midway.
.PHONY: ci-plan
ci-plan: venv
	@rm -rf $(CI_OUT)/plans $(CI_OUT)/review $(CI_OUT)/comment.md $(CI_OUT)/review.sarif && mkdir -p $(CI_OUT)/plans
	@status=0; for stack in $(SHIPPED_STACKS); do \
		echo "ci-plan: $$stack"; \
		$(PY) -m offline.plan --stack $$stack --json > $(CI_OUT)/plans/$$stack.json || status=1; \
		$(MAKE) --no-print-directory -o $(VENV)/.installed review STACK=$$stack OUT=$(CI_OUT)/review || status=1; \
	done; \
	$(PY) -m offline.ci_sarif --review $(CI_OUT)/review --out $(CI_OUT)/review.sarif || status=1; \
	$(PY) -m offline.ci_comment --plans $(CI_OUT)/plans $(if $(BASE),--base $(BASE)) --out $(CI_OUT)/comment.md \
		|| status=1; \
	echo "ci-plan: wrote $(CI_OUT)/comment.md (exit $$status)"; exit $$status

## make review [STACK=local] [OUT=review]: compliance review of Pulumi.$(STACK).yaml in OUT/STACK/: report.md to sign,
## report.json, report.sarif (SARIF 2.1.0), junit.xml, summary.md; exit 1 on blocking findings, 2 on a config error
OUT ?= review
.PHONY: review policy-config
review: venv
	$(PY) -m offline.review_cli --stack $(STACK) --out $(OUT)

## make policy-config [STACK=local] [OUT=review]: OUT/STACK/policy-config.json for
## `pulumi preview --policy-pack policy --policy-pack-config OUT/STACK/policy-config.json` (same levels, environment,
## data classification and waivers as the plan: the rules apply the waivers themselves)
policy-config: venv
	$(PY) -m offline.policy_config --stack $(STACK) --out $(OUT)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
