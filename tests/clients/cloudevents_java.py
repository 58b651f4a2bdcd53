"""Run ``cloudevents-java/MilestoneReader.java`` (the CloudEvents Java SDK) against a topic.

The jars come from Maven Central once, into ``.local/clients/cloudevents-java/lib``
(git-ignored), stamped with the pom's sha256 as ``infra/kafka/kafka.sh`` does: a
second run downloads nothing, a changed pom refetches. The reader runs as a
single-file Java program (``java -cp 'lib/*' MilestoneReader.java``), no build.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLIENT_DIR = Path(__file__).resolve().parent / "cloudevents-java"
POM = CLIENT_DIR / "pom.xml"
READER = CLIENT_DIR / "MilestoneReader.java"
REPO_ROOT = CLIENT_DIR.parents[2]
HOME = REPO_ROOT / ".local" / "clients" / "cloudevents-java"
LIB = HOME / "lib"
FETCH_TIMEOUT = 900.0


def pom_artifacts() -> list[str]:
    """``group:artifact:version`` of each dependency the pom names (for messages)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(POM).getroot()
    props = {p.tag.split("}")[1]: p.text or "" for p in root.findall("m:properties/*", ns)}
    found = []
    for dep in root.findall("m:dependencies/m:dependency", ns):
        version = dep.findtext("m:version", "", ns)
        if version.startswith("${"):
            version = props.get(version[2:-1], version)
        found.append(
            f"{dep.findtext('m:groupId', '', ns)}:{dep.findtext('m:artifactId', '', ns)}:{version}"
        )
    return found


def fetch_jars() -> Path:
    """The reader's classpath directory, fetched with Maven on first use."""
    want = hashlib.sha256(POM.read_bytes()).hexdigest()
    stamp = LIB / ".pom.sha256"
    HOME.mkdir(parents=True, exist_ok=True)
    # Other test runs in the same tree may fetch at the same time.
    with (HOME / ".fetch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text().strip() == want:
            return LIB
        wanted = ", ".join(pom_artifacts())
        mvn = shutil.which("mvn")
        if mvn is None:
            pytest.fail(
                f"Maven ('mvn') is not on PATH: it is needed to fetch {wanted} "
                f"from Maven Central into {LIB} (Debian: apt-get install maven)"
            )
        tmp = HOME / "lib.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=FETCH_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"Maven did not fetch {wanted} from Maven Central within {FETCH_TIMEOUT:.0f}s "
                f"(into {LIB}): is Maven Central reachable?"
            )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()
            pytest.fail(
                f"Maven could not fetch {wanted} from Maven Central into {LIB}: "
                f"is Maven Central reachable? Maven said:\n" + "\n".join(output[-30:])
            )
        shutil.rmtree(LIB, ignore_errors=True)
        tmp.rename(LIB)
        stamp.write_text(want + "\n")
    return LIB


@dataclass
class JavaRead:
    """What the reader printed, one parsed JSON object per line."""

    lines: list[dict[str, Any]]
    returncode: int
    stderr: str

    def _of(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("record") == kind]

    @property
    def events(self) -> list[dict[str, Any]]:
        return self._of("event")

    @property
    def rejected(self) -> list[dict[str, Any]]:
        return self._of("rejected")

    @property
    def summary(self) -> dict[str, Any]:
        found = self._of("summary")
        assert len(found) == 1, f"the reader printed no summary line:\n{self.stderr}"
        return found[0]


def read_with_java_sdk(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> JavaRead:
    """Read ``count`` records of ``topic`` from the beginning with ``CloudEventDeserializer``."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("Java 11+ ('java') is not on PATH: the CloudEvents Java SDK reader needs it")
    lib = fetch_jars()
    command = [
        java,
        "-cp",
        f"{lib}/*",
        str(READER),
        bootstrap,
        topic,
        str(count),
        str(int(timeout)),
    ]
    # Generous headroom over the reader's own deadline: the JVM compiles the source first.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout + 60, check=False, cwd=CLIENT_DIR
    )
    if done.returncode not in (0, 2):
        raise AssertionError(
            f"MilestoneReader failed (exit {done.returncode}):\n{done.stderr}\n{done.stdout}"
        )
    lines = []
    for raw in done.stdout.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            raise AssertionError(
                f"MilestoneReader printed a line that is not JSON: {raw!r}\n{done.stderr}"
            ) from None
    return JavaRead(lines, done.returncode, done.stderr)
