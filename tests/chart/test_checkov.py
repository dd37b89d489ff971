"""checkov's Kubernetes policies on every rendered combination: zero failed checks.

checkov lives in its own virtualenv (.tools/checkov, made by scripts/check.sh): its pinned
`packaging<24` cannot share an environment with pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.chart.render import CI_VALUES, ROOT, objects
from tests.conftest import require_tool

# Each skipped check, and why it does not apply:
SKIPPED = [
    # Image tags are the default so that `helm install` works with the published tags; set
    # `image.digest` (and redis.bundled.image.digest) to pin by digest in production.
    "CKV_K8S_43",
    # With tags pinned to a release (never `latest`), IfNotPresent is correct: Always would make
    # every pod start depend on the registry.
    "CKV_K8S_15",
    # zapq reads its settings (ZAPQ_*) from the environment, as every 12-factor service does; the
    # values come from secretKeyRefs, so they are in no manifest. Redis reads its password from a
    # mounted file and passes this check.
    "CKV_K8S_35",
]


def checkov_binary() -> str | None:
    local = ROOT / ".tools" / "checkov" / "bin" / "checkov"
    return str(local) if local.exists() else shutil.which("checkov")


def test_checkov_passes_every_rendered_combination(tmp_path: Path) -> None:
    binary = checkov_binary()
    require_tool(binary is not None, "checkov (scripts/check.sh installs it in .tools/checkov)")
    assert binary is not None
    for path in CI_VALUES:
        docs = objects(yaml.safe_load(path.read_text()) or {})
        (tmp_path / path.name).write_text(yaml.safe_dump_all(docs))
    command = [binary, "--directory", str(tmp_path), "--framework", "kubernetes"]
    command += ["--output", "json", "--quiet", "--compact", "--skip-check", ",".join(SKIPPED)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        timeout=300,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        (check["check_id"], check["resource"], check["check_name"])
        for check in report["results"]["failed_checks"]
    ]
    assert failed == [], failed
    assert summary["failed"] == 0
    assert summary["passed"] > 500  # ~90 checks x the workloads of six combinations
