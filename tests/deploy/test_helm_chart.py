"""The Helm chart (deploy/helm/relay) and deploy/kubernetes.yaml render and validate against the Kubernetes
schemas offline, with the hardening the plain manifest has."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from relay.tracing_config import TracingConfig
from tests.deploy.helm_render import render_chart

kv = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "relay"
VALUES = [None, *sorted((CHART / "ci").glob("*.yaml"))]


def _validate(doc: dict[str, Any]) -> None:
    if doc["kind"] == "ServiceMonitor":
        endpoint = doc["spec"]["endpoints"][0]
        assert doc["apiVersion"] == "monitoring.coreos.com/v1" and endpoint["path"] == "/metrics"
        return
    kv.validate(doc, kv.latest_version(), strict=True)


@pytest.mark.parametrize("values", VALUES, ids=lambda v: v.name if v else "defaults")
def test_chart_renders_valid_objects(values: Path | None) -> None:
    docs = render_chart(CHART, yaml.safe_load(values.read_text()) if values else None)
    for doc in docs:
        _validate(doc)
    by_kind = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget"} <= by_kind.keys()
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["envFrom"] == [{"secretRef": {"name": "relay-secrets"}}]
    toml = tomllib.loads(by_kind["ConfigMap"]["data"]["relay.toml"])
    state = toml["state"]
    assert state["backend"] == "redis" and sum(k in state for k in ("url", "sentinels", "cluster")) == 1
    if "tracing" in toml:
        assert TracingConfig.model_validate(toml["tracing"]).traces_url().endswith("/v1/traces")
    if "HorizontalPodAutoscaler" in by_kind:
        assert "replicas" not in by_kind["Deployment"]["spec"]
        assert by_kind["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_every_template_is_exercised_by_some_values_file() -> None:
    kinds = {d["kind"] for v in VALUES for d in render_chart(CHART, yaml.safe_load(v.read_text()) if v else None)}
    assert {"Ingress", "HorizontalPodAutoscaler", "ServiceMonitor"} <= kinds


def test_plain_manifest_validates() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text()) if d]
    assert docs
    for doc in docs:
        _validate(doc)
