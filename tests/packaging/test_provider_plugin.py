"""The component package, installed and started the way the Pulumi CLI does it, answers GetSchema.

What `pulumi package add <repo>.git/provider` does, per pulumi-language-python (`RunPlugin`,
`InstallDependencies`) and the CLI's plugin loader (`PluginProject`, which reads `runtime` and
its options but not `main`):
1. finds `PulumiPlugin.yaml` in the plugin directory and reads `runtime.options.virtualenv`;
2. creates that virtualenv inside the plugin directory and installs the directory's
   `requirements.txt` into it, with the plugin directory as the working directory;
3. runs `<virtualenv>/bin/python <plugin directory> <engine address>` from the consumer's own
   directory, which executes the plugin directory's `__main__.py`; the provider prints its port.

Steps 2 and 3 run here on a copy of the repository (so nothing is written into the checkout),
with two differences from the CLI: pip runs `--no-deps --no-build-isolation` (no network), and
the venv reaches the test environment's third-party packages through a .pth path line. The
provider listens on 127.0.0.1 only and is always stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc
from zero_downtime.provider.catalog import PACKAGE_NAME, component_classes, package_version, type_token

from tests.paths import REPO_ROOT

STARTUP_SECONDS = 90
# Never dialled for GetSchema; the host requires an engine address argument.
UNUSED_ENGINE = "127.0.0.1:1"
PLUGIN_DIR = "provider"
# The keys the CLI's plugin loader reads from PulumiPlugin.yaml.
CLI_READS = {"runtime", "packages", "requiredPulumiVersion", "template"}


def _manifest() -> dict:
    return yaml.safe_load((REPO_ROOT / PLUGIN_DIR / "PulumiPlugin.yaml").read_text())


def test_the_stack_program_root_is_not_a_plugin() -> None:
    # With a manifest at the root, the CLI would run the root __main__.py: the stack program.
    assert not (REPO_ROOT / "PulumiPlugin.yaml").exists()
    assert (REPO_ROOT / "Pulumi.yaml").is_file()


def test_the_manifest_uses_only_keys_the_cli_reads() -> None:
    manifest = _manifest()
    assert set(manifest) <= CLI_READS, f"the CLI ignores {sorted(set(manifest) - CLI_READS)}"
    assert manifest["runtime"]["name"] == "python"
    # The entry point is found by where the manifest is, so it must sit beside it.
    assert (REPO_ROOT / PLUGIN_DIR / "__main__.py").is_file()


def _read_port(proc: subprocess.Popen[bytes]) -> int:
    """The host prints its port as the first stdout line; wait for it, bounded."""
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else b""), daemon=True)
    reader.start()
    reader.join(STARTUP_SECONDS)
    if not line or not line[0].strip().isdigit():
        stderr = b""
        if proc.poll() is not None and proc.stderr:
            stderr = proc.stderr.read()
        pytest.fail(f"provider did not print its port within {STARTUP_SECONDS}s: {line!r} {stderr.decode()[-2000:]}")
    return int(line[0])


def _copy_of_the_repository(into: Path) -> Path:
    """What a clone holds that the plugin needs: pyproject.toml and the package folders."""
    package_dirs = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    into.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", into)
    ignore = shutil.ignore_patterns("__pycache__", "venv")
    for folder in package_dirs.values():
        shutil.copytree(REPO_ROOT / folder, into / folder, ignore=ignore)
    return into


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _install_as_the_cli_does(plugin: Path) -> Path:
    """Create the manifest's virtualenv in the plugin directory and install requirements.txt."""
    options = yaml.safe_load((plugin / "PulumiPlugin.yaml").read_text())["runtime"].get("options", {})
    assert options.get("toolchain", "pip") == "pip"
    venv = plugin / options.get("virtualenv", "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-build-isolation"]
    install = subprocess.run(
        [*pip, "-q", "-r", "requirements.txt"],
        cwd=plugin,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return python


@pytest.fixture(scope="module")
def provider_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("plugin")
    plugin = _copy_of_the_repository(tmp / "clone") / PLUGIN_DIR
    python = _install_as_the_cli_does(plugin)
    consumer = tmp / "consumer-project"
    consumer.mkdir()
    proc = subprocess.Popen(
        [python, plugin, UNUSED_ENGINE],
        cwd=consumer,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield _read_port(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_the_started_plugin_serves_the_schema_of_every_component(provider_port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{provider_port}") as channel:
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        reply = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
    schema = json.loads(reply.schema)
    assert schema["name"] == PACKAGE_NAME
    assert schema["version"] == package_version()
    assert set(schema["resources"]) == {type_token(c) for c in component_classes()}
