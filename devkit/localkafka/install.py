"""What the local Kafka runs on: the jars Maven fetches (once per pom) and a Java that is new enough."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from jigsaw.errors import KafkaLocalError

MIN_JAVA = 17


def libs_dir(deploy_dir: Path, jar_cache: Path) -> Path:
    """The cache folder for the jars ``deploy_dir/pom.xml`` names: a changed pom fetches afresh."""
    digest = hashlib.sha256((deploy_dir / "pom.xml").read_bytes()).hexdigest()[:12]
    return jar_cache / digest


def fetch_jars(deploy_dir: Path, jar_cache: Path, progress: Callable[[str], None]) -> Path:
    """Copy the runtime jars named by deploy/kafka/pom.xml into the cache, once per pom."""
    libs = libs_dir(deploy_dir, jar_cache)
    if (libs / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaLocalError(
            "Maven is needed to fetch the Kafka jars: install it (apt-get install maven) "
            "and put `mvn` on PATH"
        )
    progress(f"fetching Kafka jars with Maven into {libs} (first run only)…")
    tmp = libs.with_name(libs.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(deploy_dir / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise KafkaLocalError(
            f"Maven could not fetch the Kafka jars (exit {result.returncode}):\n"
            f"{(result.stdout + result.stderr)[-2000:]}"
        )
    (tmp / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    progress(f"fetched {len(list(libs.glob('*.jar')))} jars")
    return libs


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaLocalError(
            f"Java {MIN_JAVA}+ is needed to run Kafka: install a JDK or JRE "
            f"(apt-get install openjdk-{MIN_JAVA}-jre-headless) and put `java` on PATH"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)  # noqa: S603
    m = re.search(r'version "(\d+)', out.stderr + out.stdout)
    if m and int(m.group(1)) < MIN_JAVA:
        raise KafkaLocalError(
            f"Kafka 4 needs Java {MIN_JAVA}+, but `java` is version {m.group(1)}: "
            "install a newer JDK or put it first on PATH"
        )
    return java
