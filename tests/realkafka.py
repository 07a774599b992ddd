"""Apache Kafka itself, for the real-broker test tier: KRaft brokers on loopback.

The broker's jars come from Maven Central once (``tests/kafka/pom.xml``,
``mvn dependency:copy-dependencies``) into a cache folder outside the repo:
``$MMSTREAM_KAFKA_HOME`` or ``~/.cache/mmstream-kafka/<version>``.  Java 17 runs them.

:class:`KafkaCluster` formats a KRaft storage folder per node and starts each node as
one combined broker+controller JVM (``process.roles=broker,controller``): one node for
the tier's default broker, three for the failure tests (replication factor 3,
``min.insync.replicas=2``).  Tuned to start fast and small on 2 cores: a 256 MB heap,
serial GC, C1 only, few internal partitions, no initial rebalance delay.  It waits
until every node is registered and answers, and stops each node by its pid.

``security="sasl_ssl"`` adds a SASL_SSL listener (SCRAM-SHA-512) with a throwaway CA
and broker certificate (openssl), the StandardAuthorizer with no access for a
principal without ACLs, and SCRAM users made at format time.  The PLAINTEXT listener
stays for the tests' admin (its principal ``User:ANONYMOUS`` is the super user).
"""
from __future__ import annotations

import atexit
import base64
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from mmstream.kafka.broker import free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

HERE = Path(__file__).resolve().parent
POM = HERE / "kafka" / "pom.xml"
VERSION = "4.1.1"  # keep in step with tests/kafka/pom.xml
HOST = "127.0.0.1"
#: JVM options: small heap, one GC thread, C1 only (starts ~2x faster on 2 cores)
JAVA_OPTS = ["-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
             "-XX:-UsePerfData", "-Djava.awt.headless=true", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-Dorg.slf4j.simpleLogger.showDateTime=true"]


class KafkaUnavailable(RuntimeError):
    """Java, Maven or the jars are missing: the real-broker tier cannot run."""


def kafka_home() -> Path:
    return Path(os.environ.get("MMSTREAM_KAFKA_HOME") or Path.home() / ".cache" / "mmstream-kafka" / VERSION)


def kafka_libs() -> Path:
    """The folder of the broker's jars, fetched with Maven on first use (under a lock:
    several test sessions may start at once)."""
    home = kafka_home()
    libs, done = home / "libs", home / "libs.complete"
    if done.is_file():
        return libs
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise KafkaUnavailable(f"{tool} is not on PATH: the real-Kafka tier needs Java 17 and Maven "
                                   "(apt-get install openjdk-17-jre-headless maven)")
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.is_file():
            shutil.rmtree(libs, ignore_errors=True)
            run = subprocess.run(["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
                                  f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                raise KafkaUnavailable(f"fetching Kafka {VERSION} with Maven failed:\n{run.stdout[-2000:]}"
                                       f"{run.stderr[-2000:]}")
            done.write_text(VERSION)
    return libs


def _java(libs: Path, *args: str, heap: Optional[list[str]] = None) -> list[str]:
    return ["java", *(heap or JAVA_OPTS), "-cp", f"{libs}/*", *args]


def _cluster_id() -> str:
    """A random cluster id as Kafka writes them (URL-safe base64 of 16 bytes), never starting
    with "-": the storage tool would read such an id as an option (1 run in 64 failed so)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class KafkaNode:
    """One combined broker+controller process."""

    def __init__(self, node_id: int, root: Path, port: int, controller_port: int,
                 secure_port: Optional[int]) -> None:
        self.node_id, self.root = node_id, root
        self.port, self.controller_port, self.secure_port = port, controller_port, secure_port
        self.config = root / "server.properties"
        self.log_path = root / "broker.log"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, libs: Path) -> None:
        if self.alive():
            return
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(_java(libs, "kafka.Kafka", str(self.config)), cwd=self.root,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()

    def kill(self) -> None:
        """SIGKILL, as a machine that dies."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (a controlled shutdown), then SIGKILL after ``timeout`` seconds."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class KafkaCluster:
    """``nodes`` KRaft nodes on loopback; a context manager. ``url`` is the PLAINTEXT
    bootstrap list (``kafka://h:p,h:p``); ``secure_url`` the SASL_SSL one."""

    def __init__(self, root: Path, nodes: int = 1, *, security: Optional[str] = None,
                 users: Optional[dict[str, str]] = None, start_timeout: float = 90.0) -> None:
        self.root = Path(root)
        self.size = nodes
        self.security = security
        self.users = dict(users or {})
        self.start_timeout = start_timeout
        self.cluster_id = _cluster_id()
        self.nodes = [KafkaNode(i, self.root / f"node{i}", free_port(), free_port(),
                                free_port() if security else None) for i in range(1, nodes + 1)]
        self.ca_file: Optional[Path] = None
        self.libs: Optional[Path] = None
        self.started_in: Optional[float] = None

    # addresses ------------------------------------------------------------------------------
    @property
    def bootstrap(self) -> list[str]:
        return [f"{HOST}:{n.port}" for n in self.nodes]

    @property
    def url(self) -> str:
        return "kafka://" + ",".join(self.bootstrap)

    @property
    def secure_url(self) -> str:
        return "kafka://" + ",".join(f"localhost:{n.secure_port}" for n in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    # life cycle -----------------------------------------------------------------------------
    def start(self) -> "KafkaCluster":
        started = time.monotonic()
        self.libs = kafka_libs()
        if self.security:
            self.ca_file = make_certificates(self.root / "tls")
        for node in self.nodes:
            node.root.mkdir(parents=True, exist_ok=True)
            node.config.write_text(self._config(node))
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(self._format, self.nodes))
        for node in self.nodes:
            node.start(self.libs)
        atexit.register(self.stop)  # a test session that dies of an exception leaves no broker behind
        try:
            self.wait_ready(self.start_timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        return self

    def _format(self, node: KafkaNode) -> None:
        args = ["kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(node.config)]
        for name, password in self.users.items():
            args += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
        heap = ["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"]
        run = subprocess.run(_java(self.libs, *args, heap=heap), capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"kafka storage format failed for node {node.node_id}:\n{run.stdout[-2000:]}"
                               f"{run.stderr[-2000:]}")

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Until every live node accepts connections and the cluster reports all of them
        as brokers; the seconds it took. RuntimeError with the logs' tails if not."""
        started = time.monotonic()
        deadline = started + timeout
        want = {n.node_id for n in self.nodes if n.alive()}
        seen: set[int] = set()
        while time.monotonic() < deadline:
            dead = [n for n in self.nodes if n.proc is not None and not n.alive() and n.node_id in want]
            if dead:
                raise RuntimeError(f"kafka node {dead[0].node_id} exited during start-up:\n{dead[0].log_tail()}")
            if all(_accepts(n.port) for n in self.nodes if n.node_id in want):
                seen = self.registered_brokers()
                if want <= seen:
                    return time.monotonic() - started
            time.sleep(0.2)
        tails = "\n".join(f"--- node {n.node_id}\n{n.log_tail(1500)}" for n in self.nodes)
        raise RuntimeError(f"kafka cluster not ready in {timeout:g} s (brokers seen: {sorted(seen)}):\n{tails}")

    def wait_in_sync(self, timeout: float = 120.0) -> float:
        """Until every partition of every topic (the internal ones too) has all its replicas in sync, as
        on a cluster that lost no node; the seconds it took. RuntimeError naming the partitions if not."""
        started = time.monotonic()
        lagging: list = []
        while time.monotonic() - started < timeout:
            try:
                admin = self.admin()
                try:
                    lagging = [(t["name"], p["partition_index"], sorted(p["isr_nodes"]), sorted(p["replica_nodes"]))
                               for t in admin.describe_topics() for p in t["partitions"]
                               if set(p["isr_nodes"]) != set(p["replica_nodes"]) or p["leader_id"] == -1]
                finally:
                    admin.close()
                if not lagging:
                    return time.monotonic() - started
            except (KafkaError, OSError, KeyError) as exc:
                lagging = [repr(exc)]
            time.sleep(0.2)
        raise RuntimeError(f"kafka partitions not all in sync in {timeout:g} s: {lagging[:10]}")

    def registered_brokers(self) -> set[int]:
        """Node ids of the brokers the cluster's metadata lists now (empty if none answers)."""
        live = [f"{HOST}:{n.port}" for n in self.nodes if n.alive()]
        try:
            admin = KafkaAdminClient(bootstrap_servers=live, client_id="realkafka-probe",
                                     request_timeout_ms=3000, bootstrap_timeout_ms=3000)
        except (KafkaError, OSError, ValueError):
            return set()
        try:
            return {b["broker_id"] for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced")}
        except (KafkaError, OSError, KeyError):
            return set()
        finally:
            admin.close()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to every node at once (a controlled shutdown), SIGKILL to those still up after
        ``timeout`` seconds; idempotent."""
        live = [n for n in self.nodes if n.alive()]
        for node in live:
            node.proc.terminate()
        deadline = time.monotonic() + timeout
        for node in live:
            try:
                node.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.kill()

    def admin(self) -> KafkaAdminClient:
        """An admin client on the PLAINTEXT listener (the super user on a secured cluster)."""
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="realkafka-admin",
                                bootstrap_timeout_ms=10000)

    def __enter__(self) -> "KafkaCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # configuration --------------------------------------------------------------------------
    def _config(self, node: KafkaNode) -> str:
        n = len(self.nodes)
        voters = ",".join(f"{m.node_id}@{HOST}:{m.controller_port}" for m in self.nodes)
        listeners = [f"PLAINTEXT://{HOST}:{node.port}", f"CONTROLLER://{HOST}:{node.controller_port}"]
        advertised = [f"PLAINTEXT://{HOST}:{node.port}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        lines = [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={voters}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={node.root / 'data'}",
            f"default.replication.factor={n}",
            f"min.insync.replicas={min(2, n)}",
            f"offsets.topic.replication.factor={n}",
            "offsets.topic.num.partitions=4",
            f"transaction.state.log.replication.factor={n}",
            f"transaction.state.log.min.isr={min(2, n)}",
            "transaction.state.log.num.partitions=4",
            f"share.coordinator.state.topic.replication.factor={n}",
            f"share.coordinator.state.topic.min.isr={min(2, n)}",
            "group.initial.rebalance.delay.ms=0",
            "num.partitions=4",
            "num.network.threads=2",
            "num.io.threads=2",
            "num.recovery.threads.per.data.dir=1",
            "background.threads=2",
            "log.segment.bytes=16777216",
            # a dead broker is noticed in seconds, not the default 9 s / 18 s
            "broker.session.timeout.ms=4000",
            "broker.heartbeat.interval.ms=500",
            "controller.quorum.fetch.timeout.ms=2000",
            "controller.quorum.election.timeout.ms=1000",
            "replica.lag.time.max.ms=5000",
            "leader.imbalance.check.interval.seconds=5",
        ]
        if self.security:
            listeners.append(f"SECURE://{HOST}:{node.secure_port}")
            advertised.append(f"SECURE://localhost:{node.secure_port}")
            protocols.append("SECURE:SASL_SSL")
            tls = self.root / "tls"
            lines += [
                "sasl.enabled.mechanisms=SCRAM-SHA-512",
                "listener.name.secure.scram-sha-512.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "listener.name.secure.ssl.keystore.type=PEM",
                f"listener.name.secure.ssl.keystore.location={tls / 'broker.pem'}",
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found=false",
                "super.users=User:ANONYMOUS",
            ]
        lines += [f"listeners={','.join(listeners)}", f"advertised.listeners={','.join(advertised)}",
                  f"listener.security.protocol.map={','.join(protocols)}"]
        return "\n".join(lines) + "\n"


def make_certificates(folder: Path) -> Path:
    """A throwaway CA and a broker certificate for ``localhost`` / 127.0.0.1 signed by it,
    made with the openssl CLI; ``broker.pem`` holds the broker's key and chain. The CA's path."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        run = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)} failed: {run.stderr}")

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=mmstream test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
            "-subj", "/CN=localhost")
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "broker.crt", "-days", "2", "-extfile", "san.ext")
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "broker.key", "-out", "broker.pk8")
    (folder / "broker.pem").write_text((folder / "broker.pk8").read_text() + (folder / "broker.crt").read_text()
                                       + (folder / "ca.pem").read_text())
    return folder / "ca.pem"


def make_other_ca(folder: Path) -> Path:
    """A second CA that signed nothing the broker holds: a client trusting it must refuse."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key",
                    "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=some other CA"],
                   cwd=folder, check=True, capture_output=True)
    return folder / "other-ca.pem"
