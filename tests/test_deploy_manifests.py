"""deploy/: the Kubernetes base and example overlay render and validate against the Kubernetes schemas
(offline, kubernetes-validate), and deploy/compose.yaml has the stack's shape. No network, no cluster.

Rendered by ``kubectl kustomize`` when it is on PATH, and always by the small renderer below, which
knows just what this repository's kustomizations use: resources, namespace, labels, images, replicas
and strategic-merge patch files.
"""

import copy
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
BASE = DEPLOY / "k8s" / "base"
OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
K8S_VERSION = "1.30.0"


def _load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _merge(target, patch):
    """A strategic merge, simplified: maps recursively, lists of named items by name, others replaced."""
    if isinstance(target, dict) and isinstance(patch, dict):
        for key, value in patch.items():
            target[key] = _merge(target[key], value) if key in target else copy.deepcopy(value)
        return target
    if (isinstance(target, list) and isinstance(patch, list)
            and all(isinstance(i, dict) and "name" in i for i in target + patch)):
        by_name = {item["name"]: item for item in target}
        for item in patch:
            if item["name"] in by_name:
                _merge(by_name[item["name"]], item)
            else:
                target.append(copy.deepcopy(item))
        return target
    return copy.deepcopy(patch)


def _pod_spec(obj: dict) -> dict | None:
    template = obj.get("spec", {}).get("template")
    return template.get("spec") if template else None


def render_python(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        objects += render_python(path) if path.is_dir() else _load_all(path)
    for entry in kustomization.get("labels", []):
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(entry["pairs"])
    for patch_file in kustomization.get("patches", []):
        for patch in _load_all(directory / patch_file["path"]):
            matches = [o for o in objects
                       if (o["kind"], o["metadata"]["name"]) == (patch["kind"], patch["metadata"]["name"])]
            assert len(matches) == 1, f"patch {patch_file['path']} matches {len(matches)} objects"
            _merge(matches[0], patch)
    for image in kustomization.get("images", []):
        for obj in objects:
            spec = _pod_spec(obj)
            for container in (spec or {}).get("containers", []) + (spec or {}).get("initContainers", []):
                if container["image"].split(":")[0] == image["name"]:
                    name = image.get("newName", image["name"])
                    container["image"] = f"{name}:{image['newTag']}" if "newTag" in image else name
    for replicas in kustomization.get("replicas", []):
        for obj in objects:
            if obj["metadata"]["name"] == replicas["name"] and obj["kind"] in ("Deployment", "StatefulSet"):
                obj["spec"]["replicas"] = replicas["count"]
    if "namespace" in kustomization:
        for obj in objects:
            obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def render_kubectl(directory: Path) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


RENDERERS = [pytest.param(render_python, id="python"),
             pytest.param(render_kubectl, id="kubectl", marks=pytest.mark.skipif(
                 shutil.which("kubectl") is None, reason="kubectl is not on PATH"))]


def _index(objects: list[dict]) -> dict[tuple[str, str], dict]:
    index = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert len(index) == len(objects), "duplicate kind/name"
    return index


@pytest.mark.parametrize("render", RENDERERS)
@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_manifests_validate(render, directory):
    objects = render(directory)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(["ConfigMap", "Secret", "Job", "Deployment", "Deployment", "Service",
                            "PodDisruptionBudget", "HorizontalPodAutoscaler"])
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {e.message} at {list(e.path)}")
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "civility"

    index = _index(objects)
    api = index[("Deployment", "civility-api")]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    worker = index[("Deployment", "civility-worker")]["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["civility", "worker"]
    memory = worker["resources"]["requests"]["memory"]
    assert memory.endswith("Mi") and int(memory[:-2]) >= 1100
    job = index[("Job", "civility-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["civility", "db", "upgrade"]
    hpa = index[("HorizontalPodAutoscaler", "civility-api")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "civility-api"
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    for deployment in ("civility-api", "civility-worker"):
        spec = index[("Deployment", deployment)]["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        for source in spec["template"]["spec"]["containers"][0]["envFrom"]:
            ref = source.get("configMapRef") or source.get("secretRef")
            assert ref["name"] in {"civility-config", "civility-secrets"}


@pytest.mark.parametrize("render", RENDERERS)
def test_overlay_applies_its_changes(render):
    index = _index(render(OVERLAY))
    assert {o["metadata"]["namespace"] for o in index.values()} == {"civility"}
    api = index[("Deployment", "civility-api")]["spec"]
    assert api["template"]["spec"]["containers"][0]["image"] == "registry.example.org/civility-api:0.1.0"
    assert api["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "1"
    assert "replicas" not in api  # the HPA owns it
    assert index[("HorizontalPodAutoscaler", "civility-api")]["spec"]["minReplicas"] == 3
    worker = index[("Deployment", "civility-worker")]["spec"]
    assert worker["replicas"] == 3
    assert worker["template"]["spec"]["containers"][0]["image"] == "registry.example.org/civility-worker:0.1.0"
    assert index[("ConfigMap", "civility-config")]["data"]["CIVILITY_MODERATION_MODE"] == "post"


def test_secrets_hold_placeholders_only():
    secret = _index(render_python(BASE))[("Secret", "civility-secrets")]
    for key, value in secret["stringData"].items():
        assert key.startswith("CIVILITY_")
        assert value in ("", "redis://redis:6379/0") or "CHANGE-ME" in value, key


def test_compose_stack_shape():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"api", "worker", "migrate", "postgres", "redis"} <= set(services)

    assert services["api"]["build"]["target"] == "api"
    assert services["worker"]["build"]["target"] == "worker"
    assert services["migrate"]["command"] == ["civility", "db", "upgrade"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "replicas" in services["api"]["deploy"]
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])

    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["image"].startswith("redis:7")
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"
    redis = services["redis"]["command"]
    for flag, value in (("--appendonly", "yes"), ("--appendfsync", "everysec"),
                        ("--maxmemory-policy", "noeviction")):
        assert redis[redis.index(flag) + 1] == value

    assert {"postgres-data", "redis-data", "model-cache"} <= set(compose["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redis-data:/data" in services["redis"]["volumes"]
    assert "model-cache:/home/civility/.cache" in services["worker"]["volumes"]
    assert services["worker"]["environment"]["TORCH_HOME"].startswith("/home/civility/.cache/")
    assert services["worker"]["environment"]["HF_HOME"].startswith("/home/civility/.cache/")

    # Settings come from the environment; the only credential is interpolated, never written down.
    for name in ("api", "worker", "migrate"):
        env = services[name]["environment"]
        assert all(k.startswith(("CIVILITY_", "TORCH_HOME", "HF_HOME")) for k in env)
        assert "${POSTGRES_PASSWORD:?" in env["CIVILITY_DATABASE_URL"]
        for key in ("CIVILITY_SSO_SECRET", "CIVILITY_METRICS_TOKEN", "CIVILITY_CLIENT_HASH_SALT"):
            assert env[key] == f"${{{key}:-}}"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
