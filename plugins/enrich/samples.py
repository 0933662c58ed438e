"""Realistic synthetic log lines with their true labels, for the demo, tests and benchmarks.

Each *family* is one kind of event a real fleet logs (sshd, nginx, kernel, JVM, ...), written
as several templates whose variable parts (hosts, IPs, pids, paths, durations) are drawn
from a seeded generator, so the same seed always yields the same lines. The family's label is
the ground truth a careful person would give; ``covered_by_rules`` families are the ones the
default rules are meant to cover, the others are application-specific lines only a model or a
person can label.

A template is the message *body*; each line is then written the way the program that logs
it really writes it, in a format drawn (seeded) from those that fit: sshd and the kernel
through syslog (RFC 3164, RFC 5424, ISO timestamps) or journald's JSON export, a JVM
through log4j / logback / Spring Boot patterns, Kubernetes components as klog (alone or in a
CRI container line), nginx as access and error logs, databases in their own error-log
formats, applications as logfmt, zap, pino, bunyan, logrus, Python logging and more, often
inside a container runtime's wrapper (CRI, Docker json-file). A share of lines is in no
known format. The level a line states always agrees with the family's severity, in the
format's own words (``WARN``, ``W``, ``<PRI>`` and ``PRIORITY`` digits, pino's 40, Redis'
``#``); where the program would write another level than the family's severity, the line is
written in a form that states none. :class:`Sample` says what the parser
(``enrich.core.parse``) must find: the format, the body, the level and some header fields.
"""

from __future__ import annotations

import json
import random
import re
import string
import time
from bisect import bisect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import msgspec

from enrich import defaults

Fill = Callable[[random.Random], object]


@dataclass(frozen=True)
class Msg:
    """A template written by a given kind of program (``source``), over the family's own.

    ``logger``: the logger (JVM, Python), tag (logcat) or error code (MySQL) it is written
    with; ``native``: the level that program writes it at, in its own words (PostgreSQL
    ``LOG``/``ERROR``/``FATAL``, a syslog severity digit, ...), when it does not follow from
    the family's severity: formats that state a level then use it, and a line whose stated
    level would disagree with the family's severity is written in a form that states none.
    """

    text: str
    source: str
    logger: str | None = None
    native: str | None = None


@dataclass(frozen=True)
class Family:
    name: str
    weight: float
    severity: str
    event_type: str
    category: str
    templates: tuple[str | Msg, ...]
    covered_by_rules: bool = True
    source: str = "app"  # who writes a plain-string template (see _SOURCES)


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated line's truth. ``text`` is the message body (what the parser's body
    must be, stripped; the whole line when the line is in no known format, and for access
    logs); ``format`` the parser's name for the line's format (``rfc3164``, ``json``,
    ``cri/klog``, ``json/access``, ...; None: no known format); ``level`` the level as the
    line writes it (a syslog ``<PRI>`` as its severity digit; None: it states none);
    ``fields`` some of the header fields the parser must find (``host.name``,
    ``service.name``, ``process.pid``, ...); ``template`` the template the line was made from
    (``<family>/<index>``): the truth a template miner's grouping is scored against."""

    text: str
    severity: str
    event_type: str
    category: str
    family: str
    host: str
    service: str
    format: str | None = None
    level: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    template: str = ""


_USERS = (
    "root",
    "admin",
    "alice",
    "bob",
    "deploy",
    "ubuntu",
    "git",
    "postgres",
    "jenkins",
    "oracle",
)
_SERVICES = ("nginx", "api-gateway", "orders", "payments", "auth", "search", "billing", "inventory")
_UNITS = (
    "nginx.service",
    "docker.service",
    "postgresql.service",
    "kafka.service",
    "cron.service",
    "sshd.service",
    "redis-server.service",
    "node-exporter.service",
)
_PATHS = (
    "/api/v1/orders",
    "/api/v1/users",
    "/login",
    "/static/app.js",
    "/api/v2/search",
    "/cart/checkout",
    "/images/logo.png",
    "/api/v1/payments",
    "/admin",
    "/graphql",
)
_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "kube-probe/1.30",
)
_PROCS = ("java", "python3", "node", "postgres", "mysqld", "chrome", "ruby", "dotnet")
_JAVA_EXC = (
    "java.lang.NullPointerException",
    "java.lang.IllegalStateException",
    "java.util.ConcurrentModificationException",
    "java.io.IOException",
    "java.net.SocketTimeoutException",
)
_PY_EXC = (
    "ValueError",
    "KeyError",
    "TypeError",
    "AttributeError",
    "ZeroDivisionError",
    "RuntimeError",
    "ConnectionResetError",
)
_DOMAINS = (
    "api.example.com",
    "db.internal",
    "cache.internal",
    "auth.example.org",
    "metrics.svc.cluster.local",
    "kafka-0.kafka.svc",
)
_TABLES = ("orders", "users", "payments", "sessions", "events", "invoices")
_JOBS = (
    "/usr/local/bin/backup.sh",
    "/opt/scripts/rotate-logs",
    "certbot renew -q",
    "run-parts /etc/cron.hourly",
    "/usr/bin/php /var/www/cron.php",
)
_IMAGES = ("nginx:1.27", "postgres:17", "redis:7.4", "registry.local/orders:2.3.1")
_FILES = ("report.pdf", "export.csv", "backup.tar.gz", "avatar.png", "invoice-2026.xlsx")
_PACKAGES = ("com.example.shop", "com.example.wallet", "org.example.chat", "com.example.maps")
_ANDROID_THREADS = (
    "main",
    "OkHttp Dispatcher",
    "DefaultDispatcher-worker-2",
    "RxCachedThreadScheduler-1",
)


def _pick(seq: tuple[Any, ...]) -> Fill:
    n = len(seq)
    return lambda r: seq[int(r.random() * n)]


def _int(lo: int, hi: int) -> Fill:
    span = hi - lo + 1
    return lambda r: lo + int(r.random() * span)


def _hexs(n: int) -> Fill:
    bits = 4 * n
    return lambda r: f"{r.getrandbits(bits):0{n}x}"


def _ip(r: random.Random) -> str:
    b = r.getrandbits(24)
    first = (10, 172, 192, 203, 81)[int(r.random() * 5)]
    return f"{first}.{b >> 16}.{(b >> 8) & 255}.{(b & 255) % 254 + 1}"


def _path(r: random.Random) -> str:
    path = _PATHS[int(r.random() * len(_PATHS))]
    x = r.random()
    return f"{path}/{int(x * 199_998) + 1}" if x < 0.5 else path


def _uuid(r: random.Random) -> str:
    h = f"{r.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# how each template placeholder is drawn; a template draws only the ones it uses
_FILL: dict[str, Fill] = {
    "ip": _ip,
    "ip2": _ip,
    "port": _int(1024, 65535),
    "pid": _int(100, 99999),
    "user": _pick(_USERS),
    "svc": _pick(_SERVICES),
    "unit": _pick(_UNITS),
    "path": _path,
    "agent": _pick(_AGENTS),
    "bytes": _int(0, 250_000),
    "ms": _int(1, 30_000),
    "ms_small": lambda r: round(0.1 + r.random() * 79.9, 3),
    "pct": _int(85, 100),
    "dev": _pick(("sda", "sdb", "nvme0n1", "vda", "xvdf")),
    "sector": _int(1000, 999_999_999),
    "proc": _pick(_PROCS),
    "hex": _hexs(12),
    "sha": _hexs(43),
    "jexc": _pick(_JAVA_EXC),
    "pyexc": _pick(_PY_EXC),
    "cls": _pick(("OrderService", "PaymentClient", "UserRepository", "CacheLoader")),
    "line": _int(10, 900),
    "domain": _pick(_DOMAINS),
    "table": _pick(_TABLES),
    "n": _int(1, 5000),
    "seq": _int(1, 10_000_000),
    "node": lambda r: f"node-{int(r.random() * 24) + 1}",
    "uuid": _uuid,
    "status2": _pick((200, 201, 204)),
    "status3": _pick((301, 302, 304)),
    "status4": _pick((400, 404, 405, 410)),
    "status_auth": _pick((401, 403)),
    "status5": _pick((500, 502, 503, 504)),
    "method": _pick(("GET", "GET", "GET", "POST", "PUT", "DELETE")),
    "exit": _pick((1, 2, 137, 139, 143)),
    "gb": _int(1, 512),
    "job": _pick(_JOBS),
    "topic": _pick(("orders", "payments", "clickstream", "audit")),
    "group": _pick(("billing-consumer", "search-indexer", "fraud-detector")),
    "build": _int(100, 9999),
    "container": _hexs(12),
    "image": _pick(_IMAGES),
    "file": _pick(_FILES),
    "kb": _int(1, 90_000),
    "kbid": _int(5_000_000, 5_099_999),
    "pkg": _pick(_PACKAGES),
    "athread": _pick(_ANDROID_THREADS),
}
_TIME_KEYS = frozenset({"ts_clf", "ts_iso"})

_ACCESS = '{ip} - - [{ts_clf}] "{method} {path} HTTP/1.1" {status} {bytes} "-" "{agent}"'

FAMILIES: tuple[Family, ...] = (
    Family(
        "sshd_accepted",
        3,
        "INFO",
        "Authentication and Authorization",
        "Connectivity and Security",
        (
            "sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:{sha}",
            "sshd[{pid}]: Accepted password for {user} from {ip} port {port} ssh2",
            "sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid={n}) by (uid=0)",
        ),
        source="syslog",
    ),
    Family(
        "sshd_failed",
        4,
        "WARNING",
        "Authentication and Authorization",
        "Connectivity and Security",
        (
            "sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2",
            "sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2",
            "sshd[{pid}]: Invalid user {user} from {ip} port {port}",
            "sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
            "ruser= rhost={ip}  user={user}",
            "sshd[{pid}]: Disconnected from authenticating user {user} {ip} port {port} [preauth]",
        ),
        source="syslog",
    ),
    Family(
        "sudo",
        2,
        "INFO",
        "Authentication and Authorization",
        "Connectivity and Security",
        (
            "sudo: {user:>8} : TTY=pts/{n} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart {unit}",
            "sudo: pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={n})",
        ),
        source="syslog",
    ),
    Family(
        "sudo_denied",
        1,
        "WARNING",
        "Security and Anomalies",
        "Connectivity and Security",
        (
            "sudo: {user:>8} : user NOT in sudoers ; TTY=pts/{n} ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash",
            "sudo: {user:>8} : 3 incorrect password attempts ; TTY=pts/{n} ; PWD=/home/{user} ; USER=root ; COMMAND=/bin/su",
        ),
        source="syslog",
    ),
    Family(
        "http_2xx",
        20,
        "INFO",
        "User Interactions",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "{status2}"),),
        source="access",
    ),
    Family(
        "http_3xx",
        3,
        "INFO",
        "User Interactions",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "{status3}"),),
        source="access",
    ),
    Family(
        "http_4xx",
        3,
        "WARNING",
        "User Interactions",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "{status4}"),),
        source="access",
    ),
    Family(
        "http_auth_denied",
        1.5,
        "WARNING",
        "Authentication and Authorization",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "{status_auth}"),),
        source="access",
    ),
    Family(
        "http_rate_limited",
        0.5,
        "WARNING",
        "Performance and Resources",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "429"),),
        source="access",
    ),
    Family(
        "http_5xx",
        2,
        "ERROR",
        "Network Communication",
        "Application & Middleware",
        (
            _ACCESS.replace("{status}", "{status5}"),
            Msg(
                "upstream timed out (110: Connection timed out) while reading response header from "
                'upstream, client: {ip}, server: {domain}, request: "{method} {path} HTTP/1.1", '
                'upstream: "http://{ip2}:8080{path}", host: "{domain}"',
                "nginx_error",
            ),
        ),
        source="access",
    ),
    Family(
        "healthcheck",
        10,
        "DEBUG",
        "Heartbeat",
        "Monitoring & Logging",
        (
            '{ip} - - [{ts_clf}] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.30"',
            '{ip} - - [{ts_clf}] "GET /health/ready HTTP/1.1" 200 15 "-" "ELB-HealthChecker/2.0"',
            Msg("health check passed for {svc} in {ms_small}ms", "app"),
        ),
        source="access",
    ),
    Family(
        "heartbeat",
        8,
        "INFO",
        "Heartbeat",
        "Monitoring & Logging",
        (
            "heartbeat from {node} seq={seq} ok",
            "{svc}: sending heartbeat to coordinator (seq {seq})",
            "keepalive: {node} is alive, last seen {ms}ms ago",
        ),
    ),
    Family(
        "kernel_oom",
        1,
        "CRITICAL",
        "Performance and Resources",
        "Hardware Infrastructure",
        (
            "kernel: Out of memory: Killed process {pid} ({proc}) total-vm:{kb}kB, anon-rss:{kb}kB, "
            "file-rss:0kB, shmem-rss:0kB, UID:{n} pgtables:{n}kB oom_score_adj:0",
            "kernel: {proc} invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
            "kernel: Memory cgroup out of memory: Killed process {pid} ({proc})",
        ),
        source="syslog",
    ),
    Family(
        "kernel_io",
        1,
        "ERROR",
        "Performance and Resources",
        "Hardware Infrastructure",
        (
            "kernel: blk_update_request: I/O error, dev {dev}, sector {sector} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0",
            "kernel: Buffer I/O error on dev {dev}1, logical block {sector}, async page read",
            "kernel: ata{n}.00: failed command: READ FPDMA QUEUED",
        ),
        source="syslog",
    ),
    Family(
        "segfault",
        1,
        "ERROR",
        "Security and Anomalies",
        "Software Infrastructure",
        (
            "kernel: {proc}[{pid}]: segfault at {hex} ip 00007f{hex} sp 00007ffd{hex} error 4 in libc.so.6[7f{hex}+195000]",
            "kernel: traps: {proc}[{pid}] general protection fault ip:{hex} sp:{hex} error:0 in {proc}[{hex}+{n}]",
        ),
        source="syslog",
    ),
    Family(
        "disk_full",
        1,
        "CRITICAL",
        "Performance and Resources",
        "Hardware Infrastructure",
        (
            Msg("write /var/lib/{svc}/data.{n}: No space left on device", "go"),
            Msg(
                "filesystem /dev/{dev}1 mounted on /var is {pct}% full ({gb}G free of {gb}G)", "app"
            ),
            Msg(
                "kubelet: eviction manager: attempting to reclaim ephemeral-storage, disk usage {pct}%",
                "k8s",
            ),
        ),
    ),
    Family(
        "fs_error",
        1,
        "ERROR",
        "Operations on files and apps",
        "Hardware Infrastructure",
        (
            "kernel: EXT4-fs error (device {dev}1): ext4_find_entry:{n}: inode #{sector}: comm {proc}: reading directory lblock 0",
            'kernel: XFS ({dev}1): metadata I/O error in "xfs_trans_read_buf_map" at daddr 0x{hex} len 8 error 5',
            "kernel: EXT4-fs ({dev}1): Remounting filesystem read-only",
        ),
        source="syslog",
    ),
    Family(
        "systemd_started",
        4,
        "INFO",
        "State change",
        "Software Infrastructure",
        (
            "systemd[1]: Started {unit}.",
            "systemd[1]: Starting {unit}...",
            "systemd[1]: Reloaded {unit}.",
        ),
        source="syslog",
    ),
    Family(
        "systemd_stopped",
        2,
        "INFO",
        "State change",
        "Software Infrastructure",
        (
            "systemd[1]: Stopped {unit}.",
            "systemd[1]: Stopping {unit}...",
            "systemd[1]: {unit}: Deactivated successfully.",
        ),
        source="syslog",
    ),
    Family(
        "systemd_failed",
        1,
        "ERROR",
        "State change",
        "Software Infrastructure",
        (
            "systemd[1]: {unit}: Failed with result 'exit-code'.",
            "systemd[1]: {unit}: Main process exited, code=exited, status={exit}/n/a",
            "systemd[1]: Failed to start {unit}.",
        ),
        source="syslog",
    ),
    Family(
        "java_exception",
        3,
        "ERROR",
        "Operations on files and apps",
        "Application & Middleware",
        (
            Msg(
                "Request failed: {jexc}: unexpected value at index {n}",
                "jvm",
                logger="com.example.{cls}",
            ),
            Msg('Exception in thread "main" {jexc}', "raw"),
            Msg("\tat com.example.{cls}.handle({cls}.java:{line})", "raw"),
            Msg("Caused by: {jexc}: {svc} returned no data", "raw"),
        ),
    ),
    Family(
        "jvm_out_of_memory",
        0.5,
        "ERROR",
        "Performance and Resources",
        "Application & Middleware",
        (
            Msg(
                'Exception in thread "{svc}-worker-{n}" java.lang.OutOfMemoryError: Java heap space',
                "raw",
            ),
            Msg(
                "Request failed: java.lang.OutOfMemoryError: GC overhead limit exceeded",
                "jvm",
                logger="com.example.{cls}",
            ),
        ),
    ),
    Family(
        "python_exception",
        2,
        "ERROR",
        "Operations on files and apps",
        "Application & Middleware",
        (
            Msg("Traceback (most recent call last):", "raw"),
            Msg('  File "/app/{svc}/handlers.py", line {line}, in process', "raw"),
            Msg("{pyexc}: invalid literal for int() with base 10: '{hex}'", "raw"),
            Msg("Task {uuid} raised unexpected: {pyexc}('{hex}')", "celery", logger="{svc}.worker"),
        ),
    ),
    Family(
        "db_connection",
        2,
        "ERROR",
        "Network Communication",
        "Datas",
        (
            Msg(
                'psql: error: connection to server at "{domain}" ({ip}), port 5432 failed: Connection refused',
                "raw",
            ),
            # the server writes these at FATAL: to syslog as LOG_ERR, so only there they agree
            Msg('password authentication failed for user "{user}"', "postgres", native="FATAL"),
            Msg(
                "remaining connection slots are reserved for non-replication superuser connections",
                "postgres",
                native="FATAL",
            ),
            Msg(
                "HikariPool-1 - Connection is not available, request timed out after {ms}ms.",
                "jvm",
                logger="com.zaxxer.hikari.pool.HikariPool",
            ),
            # the mysql client: "ERROR 2003 (HY000): Can't connect to MySQL server on ..."
            Msg(
                "2003 (HY000): Can't connect to MySQL server on '{domain}:3306' (111)",
                "mysql_client",
                native="ERROR",
            ),
        ),
    ),
    Family(
        "db_query",
        2,
        "WARNING",
        "Performance and Resources",
        "Datas",
        (
            # PostgreSQL writes these at LOG and ERROR (LOG_INFO and LOG_WARNING to syslog)
            Msg(
                "duration: {ms}.{n} ms  statement: SELECT * FROM {table} WHERE id = {n}",
                "postgres",
                native="LOG",
            ),
            Msg(
                "deadlock detected DETAIL: Process {pid} waits for ShareLock on transaction {seq}",
                "postgres",
                native="ERROR",
            ),
            Msg(
                'duplicate key value violates unique constraint "{table}_pkey"',
                "postgres",
                native="ERROR",
            ),
            Msg(
                "# Query_time: {ms_small}  Lock_time: 0.000{n}  Rows_sent: {n}  Rows_examined: {sector}",
                "raw",
            ),
        ),
    ),
    Family(
        "tls",
        2,
        "ERROR",
        "Security and Anomalies",
        "Connectivity and Security",
        (
            Msg(
                "x509: certificate has expired or is not yet valid: current time {ts_iso} is after {ts_iso}",
                "go",
            ),
            Msg("SSL routines:ssl3_read_bytes:sslv3 alert certificate unknown", "raw"),
            Msg(
                "http: TLS handshake error from {ip}:{port}: remote error: tls: bad certificate",
                "golog",
            ),
            Msg("certificate for {domain} expires in {n} days", "app"),
            Msg(
                "curl: (60) SSL certificate problem: unable to get local issuer certificate", "raw"
            ),
            Msg(
                "AH02039: Certificate Verification: Error (10): certificate has expired",
                "apache_error",
                logger="ssl",
            ),
        ),
    ),
    Family(
        "dns",
        2,
        "ERROR",
        "Network Communication",
        "Connectivity and Security",
        (
            Msg("dial tcp: lookup {domain} on {ip}:53: no such host", "go"),
            Msg("getaddrinfo ENOTFOUND {domain}", "node"),
            Msg("Temporary failure in name resolution: {domain}", "python"),
            "named[{pid}]: client @0x{hex} {ip}#{port} ({domain}): query failed (SERVFAIL) for {domain}/IN/A",
        ),
        source="syslog",
    ),
    Family(
        "kafka",
        2,
        "WARNING",
        "State change",
        "Application & Middleware",
        (
            Msg(
                "[Consumer clientId={svc}-{n}, groupId={group}] Request joining group due to: need to re-join with the given member-id",
                "jvm",
                logger="org.apache.kafka.clients.consumer.internals.ConsumerCoordinator",
            ),
            Msg(
                "[Consumer clientId={svc}-{n}, groupId={group}] Revoke previously assigned partitions {topic}-{n}",
                "jvm",
                logger="org.apache.kafka.clients.consumer.internals.ConsumerCoordinator",
            ),
            Msg(
                "[Producer clientId={svc}] Got error produce response with correlation id {seq} on topic-partition {topic}-{n}, retrying",
                "jvm",
                logger="org.apache.kafka.clients.producer.internals.Sender",
            ),
            Msg(
                "Client session timed out, have not heard from server in {ms}ms for sessionid 0x{hex}",
                "kafka_broker",
                logger="org.apache.zookeeper.ClientCnxn",
            ),
            Msg(
                "[GroupCoordinator 1]: Preparing to rebalance group {group} in state PreparingRebalance",
                "kafka_broker",
                logger="kafka.coordinator.group.GroupCoordinator",
            ),
            Msg(
                "Expiring session 0x{hex}, timeout of {ms}ms exceeded",
                "zookeeper",
                logger="org.apache.zookeeper.server.ZooKeeperServer",
            ),
        ),
    ),
    Family(
        "cron",
        2,
        "INFO",
        "Operations on files and apps",
        "Automation & CI/CD",
        (
            "CRON[{pid}]: ({user}) CMD ({job})",
            "CRON[{pid}]: pam_unix(cron:session): session closed for user {user}",
            "anacron[{pid}]: Job `cron.daily' terminated",
        ),
        source="syslog",
    ),
    Family(
        "container",
        2,
        "WARNING",
        "State change",
        "Software Infrastructure",
        (
            Msg("kubelet: Back-off restarting failed container {svc} in pod {svc}-{hex}", "k8s"),
            Msg("shim disconnected id={container} namespace=k8s.io", "go"),
            "dockerd: container {container} ({image}) exited with code {exit}",
            Msg("kubelet: Container {svc} failed liveness probe, will be restarted", "k8s"),
        ),
        source="syslog",
    ),
    Family(
        "firewall",
        2,
        "WARNING",
        "Security and Anomalies",
        "Connectivity and Security",
        (
            "kernel: [UFW BLOCK] IN=eth0 OUT= MAC={hex} SRC={ip} DST={ip2} LEN=44 PROTO=TCP SPT={port} DPT=22",
            Msg("[sshd] Ban {ip}", "fail2ban", native="NOTICE"),
        ),
        source="syslog",
    ),
    Family(
        "network_link",
        1,
        "ERROR",
        "Network Communication",
        "Hardware Infrastructure",
        (
            "kernel: e1000e: eth{n} NIC Link is Down",
            "kernel: bond0: link status definitely down for interface eth{n}, disabling it",
            # NetworkManager logs its state changes at info: only level-less forms agree
            Msg(
                "NetworkManager[{pid}]: <info>  device (eth{n}): state change: activated -> unavailable",
                "syslog",
                native="6",
            ),
        ),
        source="syslog",
    ),
    Family(
        "resources",
        2,
        "WARNING",
        "Performance and Resources",
        "Application & Middleware",
        (
            Msg(
                "[GC pause (G1 Evacuation Pause) (young) {kb}K->{kb}K({gb}G), {ms_small} secs]",
                "raw",
            ),
            Msg("CPU usage on {node} is {pct}% for the last 5 minutes", "app"),
            Msg("thread pool {svc}-workers exhausted: {n} tasks queued", "jvm"),
        ),
    ),
    Family(
        "ci",
        1,
        "INFO",
        "Operations on files and apps",
        "Automation & CI/CD",
        (
            Msg("Jenkins: Build #{build} of {svc}-pipeline finished: SUCCESS", "app"),
            "gitlab-runner[{pid}]: Job succeeded duration_s={ms_small} job={build} project={n} runner={hex}",
            Msg(
                "argocd: application {svc} sync status Synced, health Healthy (revision {hex})",
                "app",
            ),
        ),
        source="syslog",
    ),
    Family(
        "debug_noise",
        6,
        "DEBUG",
        "Useless",
        "Application & Middleware",
        (
            "cache hit key=user:{n} ttl={ms}",
            Msg("entering method process() with {n} items", "jvm"),
            Msg("debug: flushed {n} metrics to buffer", "raw"),
        ),
        source="app_levelled",
    ),
    Family(
        "db_lifecycle",
        1,
        "INFO",
        "State change",
        "Datas",
        (
            Msg("database system is ready to accept connections", "postgres"),
            Msg("received fast shutdown request", "postgres"),
            Msg("database system is shut down", "postgres"),
            Msg(
                "/usr/sbin/mysqld: ready for connections. Version: '8.4.3'  socket: "
                "'/var/run/mysqld/mysqld.sock'  port: 3306  MySQL Community Server - GPL.",
                "mysql",
                logger="MY-010931",
                native="System",
            ),
            Msg("Ready to accept connections tcp", "redis"),
        ),
    ),
    Family(
        "db_persistence",
        1,
        "INFO",
        "Operations on files and apps",
        "Datas",
        (
            Msg("DB saved on disk", "redis"),
            Msg("Background saving terminated with success", "redis"),
            Msg("checkpoint starting: time", "postgres"),
            Msg(
                "checkpoint complete: wrote {n} buffers (3.2%); 0 WAL file(s) added, 0 removed, "
                "1 recycled; write={ms_small} s, sync=0.002 s, total={ms_small} s",
                "postgres",
            ),
        ),
    ),
    Family(
        "android_crash",
        1,
        "ERROR",
        "Operations on files and apps",
        "Application & Middleware",
        (
            Msg("FATAL EXCEPTION: {athread}", "logcat", logger="AndroidRuntime"),
            Msg(
                "java.lang.RuntimeException: Unable to start activity ComponentInfo{{{pkg}/{pkg}.MainActivity}}: "
                "java.lang.NullPointerException",
                "logcat",
                logger="AndroidRuntime",
            ),
        ),
    ),
    Family(
        "android_anr",
        0.5,
        "ERROR",
        "Performance and Resources",
        "Application & Middleware",
        (Msg("ANR in {pkg} ({pkg}/.MainActivity)", "logcat", logger="ActivityManager"),),
    ),
    Family(
        "windows_servicing_error",
        0.5,
        "ERROR",
        "Operations on files and apps",
        "Software Infrastructure",
        (
            "Failed to resolve package 'Package_for_KB{kbid}~31bf3856ad364e35~amd64~~20348.{n}.1.0' "
            "[HRESULT = 0x800f0831 - CBS_E_STORE_CORRUPTION]",
            "Failed to execute execution chain. [HRESULT = 0x800f0922 - CBS_E_INSTALLERS_FAILED]",
            "Startup: Failed to process advanced operation queue, startupPhase: 0.  A rollback "
            "transaction will be created. [HRESULT = 0x800f0922 - CBS_E_INSTALLERS_FAILED]",
        ),
        source="windows_cbs",
    ),
    # Application-specific lines: no default rule knows them; the model and people must.
    Family(
        "windows_servicing",
        0.5,
        "INFO",
        "Operations on files and apps",
        "Software Infrastructure",
        (
            "Exec: Processing complete.  Session: {n}_{seq} [HRESULT = 0x00000000 - S_OK]",
            "Session: {n}_{seq} initialized by client WindowsUpdateAgent, external staging "
            "directory: (null), external registry directory: (null)",
            "Loaded Servicing Stack v10.0.20348.{n} with Core: C:\\Windows\\winsxs\\amd64_"
            "microsoft-windows-servicingstack_31bf3856ad364e35_10.0.20348.{n}_none_{hex}\\cbscore.dll",
        ),
        covered_by_rules=False,
        source="windows_cbs",
    ),
    Family(
        "app_user_action",
        4,
        "INFO",
        "User Interactions",
        "Application & Middleware",
        (
            "user {user} added {n} items to cart {uuid}",
            "{svc}: customer {n} updated shipping address",
            "session {uuid} for {user} checked out order {n} total={ms_small} EUR",
        ),
        covered_by_rules=False,
    ),
    Family(
        "app_payment_fail",
        1,
        "ERROR",
        "Operations on files and apps",
        "Application & Middleware",
        (
            "payment {uuid} declined by acquirer: insufficient funds (code {n})",
            "{svc}: refund {n} could not be settled, ledger mismatch of {ms_small}",
        ),
        covered_by_rules=False,
    ),
    Family(
        "app_file_ops",
        2,
        "INFO",
        "Operations on files and apps",
        "Datas",
        (
            "uploaded {file} ({kb} KB) to s3://{svc}-bucket/{uuid}",
            "export job {uuid} wrote {n} rows to /data/exports/{file}",
            "archived {n} objects from bucket {svc}-logs to cold storage",
        ),
        covered_by_rules=False,
    ),
    Family(
        "app_fraud",
        1,
        "WARNING",
        "Security and Anomalies",
        "Application & Middleware",
        (
            "risk score {pct} for account {n}: velocity check tripped ({n} attempts in 60s)",
            "{svc}: suspicious login pattern for {user} from {ip} and {ip2} within {ms}ms",
        ),
        covered_by_rules=False,
    ),
)

FAMILY_BY_NAME = {f.name: f for f in FAMILIES}


# ---- levels ----------------------------------------------------------------------------------

# each format's words for the five severities (a missing severity: the format cannot say it)
_VOCAB: dict[str, dict[str, str]] = {
    "log4j": {
        "DEBUG": "DEBUG",
        "INFO": "INFO",
        "WARNING": "WARN",
        "ERROR": "ERROR",
        "CRITICAL": "FATAL",
    },
    "logback": {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"},
    "python": {s: s for s in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")},
    "klog": {"INFO": "I", "WARNING": "W", "ERROR": "E", "CRITICAL": "F"},
    "logcat": {"DEBUG": "D", "INFO": "I", "WARNING": "W", "ERROR": "E", "CRITICAL": "F"},
    "pino": {"DEBUG": "20", "INFO": "30", "WARNING": "40", "ERROR": "50", "CRITICAL": "60"},
    "zap": {
        "DEBUG": "debug",
        "INFO": "info",
        "WARNING": "warn",
        "ERROR": "error",
        "CRITICAL": "fatal",
    },
    "zapc": {
        "DEBUG": "DEBUG",
        "INFO": "INFO",
        "WARNING": "WARN",
        "ERROR": "ERROR",
        "CRITICAL": "FATAL",
    },
    "logrus": {
        "DEBUG": "debug",
        "INFO": "info",
        "WARNING": "warning",
        "ERROR": "error",
        "CRITICAL": "fatal",
    },
    "gokit": {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"},
    "syslog": {"DEBUG": "7", "INFO": "6", "WARNING": "4", "ERROR": "3", "CRITICAL": "2"},
    "postgres": {
        "DEBUG": "DEBUG1",
        "INFO": "LOG",
        "WARNING": "WARNING",
        "ERROR": "ERROR",
        "CRITICAL": "FATAL",
    },
    "mysql": {"INFO": "Note", "WARNING": "Warning", "ERROR": "Error"},
    "redis": {"DEBUG": ".", "INFO": "*", "WARNING": "#"},
    "nginx": {
        "DEBUG": "debug",
        "INFO": "notice",
        "WARNING": "warn",
        "ERROR": "error",
        "CRITICAL": "crit",
    },
    "cbs": {"INFO": "Info", "WARNING": "Warning", "ERROR": "Error"},
    "generic": {
        "DEBUG": "DEBUG",
        "INFO": "INFO",
        "WARNING": "WARN",
        "ERROR": "ERROR",
        "CRITICAL": "CRITICAL",
    },
    "lower": {
        "DEBUG": "debug",
        "INFO": "info",
        "WARNING": "warning",
        "ERROR": "error",
        "CRITICAL": "critical",
    },
}
# a written level → its severity (the parser's vocabulary, for the words written here)
_WORD_SEV: dict[str, str] = {"notice": "INFO", "system": "INFO", "5": "INFO", "1": "CRITICAL"}
for _words in _VOCAB.values():
    for _sev, _word in _words.items():
        _WORD_SEV.setdefault(_word.lower(), _sev)
# PostgreSQL's level → the syslog severity it sends (src/backend/utils/error/elog.c)
_PG_SYSLOG = {
    "DEBUG1": "7",
    "LOG": "6",
    "INFO": "6",
    "NOTICE": "5",
    "WARNING": "5",
    "ERROR": "4",
    "FATAL": "3",
    "PANIC": "2",
}
_SOURCE_VOCAB = {
    "syslog": "syslog",
    "postgres": "postgres",
    "mysql": "mysql",
    "mysql_client": "generic",
    "fail2ban": "generic",
}
_LEVEL_WORDS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL")
_LEVEL_FIRST = re.compile(r"^\[?(?:" + "|".join(_LEVEL_WORDS) + r")\]?:?\s")


def _written(
    vocab: str | None, severity: str, native: tuple[str, str] | None
) -> tuple[str | None, bool]:
    """The level a format with ``vocab`` writes for a line of ``severity`` (first) and
    whether it agrees with that severity (second)."""
    if vocab is None:
        return None, True
    words = _VOCAB[vocab]
    word: str | None
    if native is None:
        word = words.get(severity)
        return word, word is not None
    native_vocab, native_word = native
    if native_vocab == vocab:
        word = native_word
    elif vocab == "syslog" and native_vocab == "postgres":
        word = _PG_SYSLOG[native_word]
    else:  # the same level in this format's words
        word = words.get(_WORD_SEV[native_word.lower()])
    return word, word is not None and _WORD_SEV[word.lower()] == severity


# ---- time ------------------------------------------------------------------------------------

_MON = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DOW = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _hms(t: time.struct_time) -> str:
    return f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


_BASES: dict[str, Callable[[time.struct_time], str]] = {
    "ymd": lambda t: f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {_hms(t)}",
    "iso": lambda t: f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{_hms(t)}",
    "slash": lambda t: f"{t.tm_year:04d}/{t.tm_mon:02d}/{t.tm_mday:02d} {_hms(t)}",
    "rfc3164": lambda t: f"{_MON[t.tm_mon]} {t.tm_mday:>2} {_hms(t)}",
    "klog": lambda t: f"{t.tm_mon:02d}{t.tm_mday:02d} {_hms(t)}",
    "logcat": lambda t: f"{t.tm_mon:02d}-{t.tm_mday:02d} {_hms(t)}",
    "redis": lambda t: f"{t.tm_mday:02d} {_MON[t.tm_mon]} {t.tm_year:04d} {_hms(t)}",
    "apache": lambda t: f"{_DOW[t.tm_wday]} {_MON[t.tm_mon]} {t.tm_mday:02d} {_hms(t)}",
    "year": lambda t: f"{t.tm_year:04d}",
    "clf": lambda t: f"{t.tm_mday:02d}/{_MON[t.tm_mon]}/{t.tm_year:04d}:{_hms(t)} +0000",
    "hms": _hms,
}


class _Clock:
    """The current line's time (UTC, epoch milliseconds) and its second-resolution renderings,
    computed once a second and kind."""

    __slots__ = ("_cache", "_cached_sec", "frac", "micro", "ms", "sec")

    def __init__(self, ms: int) -> None:
        self.ms = ms
        self.sec = self.frac = self.micro = 0
        self._cached_sec = -1
        self._cache: dict[str, str] = {}

    def advance(self, step: int) -> None:
        self.ms += step
        self.sec, self.frac = divmod(self.ms, 1000)
        self.micro = self.frac * 1000 + (self.ms * 7919) % 1000

    def base(self, kind: str) -> str:
        if self._cached_sec != self.sec:
            self._cache = {}
            self._cached_sec = self.sec
        out = self._cache.get(kind)
        if out is None:
            out = self._cache[kind] = _BASES[kind](time.gmtime(self.sec))
        return out

    @property
    def iso_ms(self) -> str:  # 2026-11-01T10:00:00.123Z
        return f"{self.base('iso')}.{self.frac:03d}Z"

    @property
    def iso_us(self) -> str:  # 2026-11-01T10:00:00.123456+00:00
        return f"{self.base('iso')}.{self.micro:06d}+00:00"

    @property
    def iso_ns(self) -> str:  # 2026-11-01T10:00:00.123456789Z (container runtimes)
        return f"{self.base('iso')}.{self.micro:06d}{(self.ms * 31) % 1000:03d}Z"

    @property
    def log4j(self) -> str:  # 2026-11-01 10:00:00,123
        return f"{self.base('ymd')},{self.frac:03d}"


# ---- one line's context ----------------------------------------------------------------------


class _Line:
    """What a format renders: the message and the header values of one line."""

    __slots__ = (
        "clock",
        "facility",
        "host",
        "jlogger",
        "logger",
        "msg",
        "native",
        "pid",
        "prog",
        "r",
        "service",
        "split",
        "thread",
        "tpl",
        "unit",
    )

    def __init__(self, r: random.Random, clock: _Clock) -> None:
        self.r = r
        self.clock = clock
        self.host = self.msg = self.service = self.prog = self.logger = self.jlogger = ""
        self.thread = ""
        self.pid = 0
        self.facility = 1
        self.unit: str | None = None
        self.native = ""
        self.split: tuple[str, list[tuple[str, str]]] | None = None
        self.tpl: _Template | None = None

    def head_pairs(self) -> tuple[str, list[tuple[str, str]]]:
        """The message without trailing ``key=value`` pairs, and the pairs: what a
        structured logger (logrus, zap, pino) writes as fields of their own."""
        if self.split is None:
            self.split = (self.msg, [])
            if self.tpl is not None and self.tpl.pairs:
                m = _TRAILING.match(self.msg)
                if m is not None:
                    pairs = [(k, x) for k, _eq, x in (p.partition("=") for p in m.group(2).split())]
                    if not any(k in _RESERVED for k, _x in pairs):
                        self.split = (m.group(1), pairs)
        return self.split


_TRAILING = re.compile(r"^(.*?)((?: [a-z_][\w.]*=[^\s=\"]+)+)$")
_RESERVED = frozenset(
    {
        "level",
        "lvl",
        "msg",
        "message",
        "time",
        "ts",
        "t",
        "host",
        "hostname",
        "service",
        "app",
        "pid",
        "name",
        "logger",
        "caller",
        "stream",
        "thread",
        "unit",
        "severity",
        "v",
    }
)

Out = tuple[str, str | None, str, str | None, dict[str, Any]]  # line, format, body, level, fields
_enc = msgspec.json.Encoder().encode


def _json(obj: dict[str, Any]) -> str:
    return _enc(obj).decode()


class _Variant:
    """One way to write one template: a format, the level it writes, the format inside it."""

    __slots__ = ("fn", "inner", "level", "stream")

    def __init__(
        self,
        fn: Callable[[_Line, _Variant], Out],
        level: str | None,
        inner: _Variant | None,
        stream: str,
    ) -> None:
        self.fn = fn
        self.level = level
        self.inner = inner
        self.stream = stream


# ---- the formats -----------------------------------------------------------------------------


def _tag(c: _Line) -> str:
    return f"{c.prog}[{c.pid}]" if c.pid else c.prog


def _sys_fields(c: _Line) -> dict[str, Any]:
    out: dict[str, Any] = {"host.name": c.host, "service.name": c.prog}
    if c.pid:
        out["process.pid"] = c.pid
    return out


def _rfc3164(c: _Line, v: _Variant) -> Out:
    line = f"{c.clock.base('rfc3164')} {c.host} {_tag(c)}: {c.msg}"
    return line, "rfc3164", c.msg, None, _sys_fields(c)


def _rfc3164_pri(c: _Line, v: _Variant) -> Out:
    assert v.level is not None
    pri = c.facility * 8 + int(v.level)
    fields = _sys_fields(c)
    fields["log.syslog.priority"] = pri
    line = f"<{pri}>{c.clock.base('rfc3164')} {c.host} {_tag(c)}: {c.msg}"
    return line, "rfc3164", c.msg, v.level, fields


def _rfc5424(c: _Line, v: _Variant) -> Out:
    assert v.level is not None
    pri = c.facility * 8 + int(v.level)
    sd = "-" if c.r.random() < 0.6 else '[timeQuality tzKnown="1" isSynced="1"]'
    line = f"<{pri}>1 {c.clock.iso_us} {c.host} {c.prog} {c.pid or '-'} - {sd} {c.msg}"
    fields = _sys_fields(c)
    fields["log.syslog.priority"] = pri
    return line, "rfc5424", c.msg, v.level, fields


def _syslog_iso(c: _Line, v: _Variant) -> Out:
    line = f"{c.clock.iso_us} {c.host} {_tag(c)}: {c.msg}"
    return line, "syslog_iso", c.msg, None, _sys_fields(c)


def _journal_record(c: _Line, priority: str, message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    clock = c.clock
    rec: dict[str, Any] = {
        "__REALTIME_TIMESTAMP": str(clock.sec * 1_000_000 + clock.micro),
        "PRIORITY": priority,
        "SYSLOG_FACILITY": str(c.facility),
        "SYSLOG_IDENTIFIER": c.prog,
        "_HOSTNAME": c.host,
        "_TRANSPORT": "kernel" if c.prog == "kernel" else "syslog",
    }
    fields: dict[str, Any] = {"host.name": c.host, "service.name": c.prog}
    if c.pid:
        rec["_PID"] = str(c.pid)
        rec["_COMM"] = c.prog.lower()
        fields["process.pid"] = c.pid
    if c.unit:
        rec["_SYSTEMD_UNIT"] = c.unit
        fields["systemd.unit"] = c.unit
    rec["MESSAGE"] = message
    return rec, fields


def _journald(c: _Line, v: _Variant) -> Out:
    assert v.level is not None
    rec, fields = _journal_record(c, v.level, c.msg)
    return _json(rec), "json", c.msg, v.level, fields


def _gelf(c: _Line, v: _Variant) -> Out:
    assert v.level is not None
    rec = {
        "version": "1.1",
        "host": c.host,
        "short_message": c.msg,
        "timestamp": c.clock.ms / 1000,
        "level": int(v.level),
        "_service": c.service,
    }
    return _json(rec), "json", c.msg, v.level, {"host.name": c.host}


def _shipper(c: _Line, v: _Variant) -> Out:
    """A log shipper's record (Fluent Bit, Vector, Filebeat after parsing)."""
    rec: dict[str, Any] = {
        "@timestamp": f"{c.clock.base('iso')}Z",
        "host": c.host,
        "service": c.service,
    }
    if v.level is not None:
        rec["level"] = v.level
    rec["message"] = c.msg
    fields: dict[str, Any] = {"host.name": c.host, "service.name": c.service}
    if _ACCESS_RE.match(c.msg):  # an access line in the message: parsed again, kept whole
        return _json(rec), "json/access", c.msg, v.level, {**fields, **_access_fields(c.msg)}
    return _json(rec), "json", c.msg, v.level, fields


def _plain(c: _Line, v: _Variant) -> Out:
    text = f"{_tag(c)}: {c.msg}" if c.prog else c.msg
    return text, None, text, None, {}


def _compose(c: _Line, v: _Variant) -> Out:
    """`docker compose logs`: the service's column before each line, a format of its own."""
    assert v.inner is not None
    line = f"{c.service}-1  | {v.inner.fn(c, v.inner)[0]}"
    return line, None, line, None, {}


def _cri(c: _Line, v: _Variant) -> Out:
    assert v.inner is not None
    line, fmt, body, level, fields = v.inner.fn(c, v.inner)
    stream = v.inner.stream
    out = {"log.iostream": stream, **fields}
    return f"{c.clock.iso_ns} {stream} F {line}", f"cri/{fmt}" if fmt else "cri", body, level, out


def _docker(c: _Line, v: _Variant) -> Out:
    assert v.inner is not None
    line, fmt, body, level, fields = v.inner.fn(c, v.inner)
    stream = v.inner.stream
    rec = {"log": line + "\n", "stream": stream, "time": c.clock.iso_ns}
    return (
        _json(rec),
        f"json/{fmt}" if fmt else "json",
        body,
        level,
        {"log.iostream": stream, **fields},
    )


def _klog_parts(c: _Line, v: _Variant) -> tuple[str, dict[str, Any]]:
    assert c.tpl is not None
    file, lineno = c.tpl.klog_file
    line = (
        f"{v.level}{c.clock.base('klog')}.{c.clock.micro:06d} {c.pid:>7} {file}:{lineno}] {c.msg}"
    )
    fields = {
        "process.thread.name": str(c.pid),
        "log.origin.file.name": file,
        "log.origin.file.line": lineno,
    }
    return line, fields


def _klog(c: _Line, v: _Variant) -> Out:
    line, fields = _klog_parts(c, v)
    return line, "klog", c.msg, v.level, fields


def _syslog_klog(c: _Line, v: _Variant) -> Out:
    """kubelet under systemd, as rsyslog writes it: a klog line as the syslog message."""
    line, fields = _klog_parts(c, v)
    out = {**_sys_fields(c), **fields}
    return (
        f"{c.clock.base('rfc3164')} {c.host} {_tag(c)}: {line}",
        "rfc3164/klog",
        c.msg,
        v.level,
        out,
    )


def _journald_klog(c: _Line, v: _Variant) -> Out:
    """kubelet under systemd, as `journalctl -o json` exports it: MESSAGE is a klog line."""
    line, fields = _klog_parts(c, v)
    assert v.level is not None
    rec, jfields = _journal_record(c, _VOCAB["syslog"][_WORD_SEV[v.level.lower()]], line)
    return _json(rec), "json/klog", c.msg, v.level, {**jfields, **fields}


def _logcat(c: _Line, v: _Variant) -> Out:
    tid = c.pid + (c.clock.ms % 40 if c.clock.ms % 3 else 0)
    line = f"{c.clock.base('logcat')}.{c.clock.frac:03d} {c.pid:>5} {tid:>5} {v.level} {c.logger}: {c.msg}"
    fields = {"process.pid": c.pid, "process.thread.name": str(tid), "log.logger": c.logger}
    return line, "logcat", c.msg, v.level, fields


def _logcat_brief(c: _Line, v: _Variant) -> Out:
    line = f"{v.level}/{c.logger}({c.pid:>5}): {c.msg}"
    return line, "logcat_brief", c.msg, v.level, {"process.pid": c.pid, "log.logger": c.logger}


def _log4j(c: _Line, v: _Variant) -> Out:  # %d %-5p [%t] %c - %m
    line = f"{c.clock.log4j} {v.level:<5} [{c.thread}] {c.jlogger} - {c.msg}"
    return line, "log4j", c.msg, v.level, {"log.logger": c.jlogger, "process.thread.name": c.thread}


def _log4j_line(c: _Line, v: _Variant) -> Out:  # %d{ISO8601} %-5p %c{1}:%L - %m
    short = c.jlogger.rsplit(".", 1)[-1]
    lineno = 20 + (c.pid % 480)
    line = f"{c.clock.log4j} {v.level:<5} {short}:{lineno} - {c.msg}"
    return line, "log4j", c.msg, v.level, {"log.logger": short, "log.origin.file.line": lineno}


def _log4j_thread_first(c: _Line, v: _Variant) -> Out:  # %d [%thread] %-5level %logger{36} - %msg
    logger = _abbreviate(c.jlogger)
    line = f"{c.clock.base('ymd')}.{c.clock.frac:03d} [{c.thread}] {v.level:<5} {logger} - {c.msg}"
    return line, "log4j", c.msg, v.level, {"log.logger": logger, "process.thread.name": c.thread}


def _logback(
    c: _Line, v: _Variant
) -> Out:  # %d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg
    logger = _abbreviate(c.jlogger)
    line = f"{c.clock.base('hms')}.{c.clock.frac:03d} [{c.thread}] {v.level:<5} {logger} - {c.msg}"
    return line, "logback", c.msg, v.level, {"log.logger": logger, "process.thread.name": c.thread}


def _spring_boot(c: _Line, v: _Variant) -> Out:
    thread = c.thread[-15:]  # %15.15t keeps the last 15 characters
    logger = _abbreviate(c.jlogger, 39)
    line = (
        f"{c.clock.base('iso')}.{c.clock.frac:03d}Z {v.level:>5} {c.pid} --- [{c.service}] "
        f"[{thread:>15}] {logger:<40} : {c.msg}"
    )
    fields = {
        "process.pid": c.pid,
        "service.name": c.service,
        "process.thread.name": thread.strip(),
        "log.logger": logger,
    }
    return line, "spring_boot", c.msg, v.level, fields


def _kafka(c: _Line, v: _Variant) -> Out:  # Kafka's [%d] %p %m (%c)
    line = f"[{c.clock.log4j}] {v.level} {c.msg} ({c.jlogger})"
    return line, "kafka", c.msg, v.level, {"log.logger": c.jlogger}


def _zookeeper(
    c: _Line, v: _Variant
) -> Out:  # %d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m
    short = c.jlogger.rsplit(".", 1)[-1]
    line = f"{c.clock.log4j} [myid:{c.pid % 3 + 1}] - {v.level:<5} [{c.thread}:{short}@{c.pid % 900 + 30}] - {c.msg}"
    return line, "zookeeper", c.msg, v.level, {"log.logger": short, "process.thread.name": c.thread}


def _python(c: _Line, v: _Variant) -> Out:  # %(asctime)s - %(name)s - %(levelname)s - %(message)s
    line = f"{c.clock.log4j} - {c.logger} - {v.level} - {c.msg}"
    return line, "python", c.msg, v.level, {"log.logger": c.logger}


def _python_default(c: _Line, v: _Variant) -> Out:  # %(levelname)s:%(name)s:%(message)s
    return (
        f"{v.level}:{c.logger}:{c.msg}",
        "python_default",
        c.msg,
        v.level,
        {"log.logger": c.logger},
    )


def _gunicorn(c: _Line, v: _Variant) -> Out:
    line = f"[{c.clock.base('ymd')} +0000] [{c.pid}] [{v.level}] {c.msg}"
    return line, "gunicorn", c.msg, v.level, {"process.pid": c.pid}


def _celery(c: _Line, v: _Variant) -> Out:
    """Celery's worker format: in no format the parser knows, so the whole line is the body."""
    line = f"[{c.clock.log4j}: {v.level}/ForkPoolWorker-{c.pid % 8 + 1}] {c.msg}"
    return line, None, line, None, {}


def _python_json(c: _Line, v: _Variant) -> Out:  # python-json-logger
    rec = {"asctime": c.clock.log4j, "levelname": v.level, "name": c.logger, "message": c.msg}
    return json.dumps(rec), "json", c.msg, v.level, {"log.logger": c.logger}


def _logstash_json(c: _Line, v: _Variant) -> Out:  # logstash-logback-encoder
    assert v.level is not None
    rec = {
        "@timestamp": f"{c.clock.base('iso')}.{c.clock.frac:03d}+00:00",
        "@version": "1",
        "message": c.msg,
        "logger_name": c.jlogger,
        "thread_name": c.thread,
        "level": v.level,
        "level_value": _LEVEL_VALUE[v.level],
    }
    return (
        _json(rec),
        "json",
        c.msg,
        v.level,
        {"log.logger": c.jlogger, "process.thread.name": c.thread},
    )


_LEVEL_VALUE = {"DEBUG": 10000, "INFO": 20000, "WARN": 30000, "ERROR": 40000}


def _ecs_json(c: _Line, v: _Variant) -> Out:  # ecs-logging
    rec = {
        "@timestamp": c.clock.iso_ms,
        "log.level": v.level,
        "message": c.msg,
        "ecs.version": "1.6.0",
        "service.name": c.service,
        "event.dataset": f"{c.service}.log",
        "process.thread.name": c.thread,
        "log.logger": c.logger,
    }
    fields = {"service.name": c.service, "log.logger": c.logger, "process.thread.name": c.thread}
    return _json(rec), "json", c.msg, v.level, fields


def _postgres(c: _Line, v: _Variant) -> Out:  # log_line_prefix = '%m [%p] '
    line = f"{c.clock.base('ymd')}.{c.clock.frac:03d} UTC [{c.pid}] {v.level}:  {c.msg}"
    return line, "postgres", c.msg, v.level, {"process.pid": c.pid}


def _pg_body(c: _Line) -> str:
    """PostgreSQL's message as it sends it to syslog: sequence numbers, level, message."""
    return f"[{c.pid % 97 + 1}-1] {c.native}:  {c.msg}"


def _pg_syslog(c: _Line, v: _Variant) -> Out:
    body = _pg_body(c)
    line = f"{c.clock.base('rfc3164')} {c.host} postgres[{c.pid}]: {body}"
    fields = {"host.name": c.host, "service.name": "postgres", "process.pid": c.pid}
    return line, "rfc3164", body, None, fields


def _pg_syslog_pri(c: _Line, v: _Variant) -> Out:
    assert v.level is not None
    body = _pg_body(c)
    pri = 16 * 8 + int(v.level)  # local0
    line = f"<{pri}>{c.clock.base('rfc3164')} {c.host} postgres[{c.pid}]: {body}"
    fields = {
        "host.name": c.host,
        "service.name": "postgres",
        "process.pid": c.pid,
        "log.syslog.priority": pri,
    }
    return line, "rfc3164", body, v.level, fields


def _pg_journald(c: _Line, v: _Variant) -> Out:
    assert v.level is not None
    body = _pg_body(c)
    rec, fields = _journal_record(c, v.level, body)
    return _json(rec), "json", body, v.level, fields


def _pg_plain(c: _Line, v: _Variant) -> Out:  # log_line_prefix = ''
    text = f"{c.native}:  {c.msg}"
    return text, None, text, None, {}


def _mysql(c: _Line, v: _Variant) -> Out:
    code = c.logger if c.logger.startswith("MY-") else "MY-010000"
    thread = 0 if v.level == "System" else c.pid % 64
    line = (
        f"{c.clock.base('iso')}.{c.clock.micro:06d}Z {thread} [{v.level}] [{code}] [Server] {c.msg}"
    )
    return (
        line,
        "mysql",
        c.msg,
        v.level,
        {"service.name": "Server", "process.thread.name": str(thread)},
    )


def _mysql_client(c: _Line, v: _Variant) -> Out:  # ERROR 2003 (HY000): ...
    return f"{v.level} {c.msg}", "level_first", c.msg, v.level, {}


def _redis(c: _Line, v: _Variant) -> Out:
    role = "C" if c.msg.startswith("DB saved") else "M"
    line = f"{c.pid}:{role} {c.clock.base('redis')}.{c.clock.frac:03d} {v.level} {c.msg}"
    return line, "redis", c.msg, v.level, {"process.pid": c.pid}


def _nginx_error(c: _Line, v: _Variant) -> Out:
    line = f"{c.clock.base('slash')} [{v.level}] {c.pid}#{c.pid}: *{c.pid * 7 % 99991} {c.msg}"
    return (
        line,
        "nginx_error",
        c.msg,
        v.level,
        {"process.pid": c.pid, "process.thread.name": str(c.pid)},
    )


def _apache_error(c: _Line, v: _Variant) -> Out:
    clock = c.clock
    client = f"{_ip(c.r)}:{1024 + c.pid % 60000}"
    stamp = f"{clock.base('apache')}.{clock.micro:06d} {clock.base('year')}"
    line = (
        f"[{stamp}] [{c.logger}:{v.level}] [pid {c.pid}:tid {c.pid + 17}] [client {client}] {c.msg}"
    )
    return line, "apache_error", c.msg, v.level, {"process.pid": c.pid, "client.address": client}


_ACCESS_RE = re.compile(r'(\S+) \S+ \S+ \[[^\]]*\] "([A-Z]+) \S+[^"]*" (\d{3}) ')


def _access_fields(line: str) -> dict[str, Any]:
    m = _ACCESS_RE.match(line)
    assert m is not None
    return {
        "client.address": m.group(1),
        "http.request.method": m.group(2),
        "http.response.status_code": int(m.group(3)),
    }


def _access(c: _Line, v: _Variant) -> Out:
    return c.msg, "access", c.msg, None, _access_fields(c.msg)


def _access_syslog(c: _Line, v: _Variant) -> Out:  # nginx's access_log syslog:server=...
    line = f"{c.clock.base('rfc3164')} {c.host} nginx: {c.msg}"
    fields = {"host.name": c.host, "service.name": "nginx", **_access_fields(c.msg)}
    return line, "rfc3164/access", c.msg, None, fields


def _zap_console(c: _Line, v: _Variant) -> Out:
    head, pairs = c.head_pairs()
    assert c.tpl is not None
    caller = c.tpl.caller
    line = f"{c.clock.iso_ms}\t{v.level}\t{c.logger}\t{caller}\t{head}"
    if pairs:
        line += "\t{" + ", ".join(f'"{k}": {_go_value(x)}' for k, x in pairs) + "}"
    file, lineno = caller.rsplit(":", 1)
    fields = {
        "log.logger": c.logger,
        "log.origin.file.name": file,
        "log.origin.file.line": int(lineno),
    }
    return line, "zap_console", head, v.level, fields


def _go_value(x: str) -> str:
    return x if x.isdigit() else json.dumps(x)


_BARE = re.compile(r"^[\w./@^+-]+$")


def _quote(x: str) -> str:
    """logrus: quoted unless every character is a letter, digit or one of -._/@^+."""
    return x if _BARE.match(x) else json.dumps(x)


def _logfmt(c: _Line, v: _Variant) -> Out:  # logrus' text formatter
    head, pairs = c.head_pairs()
    line = f'time="{c.clock.base("iso")}Z" level={v.level} msg={_quote(head)}'
    if pairs:
        line += "".join(f" {k}={_quote(x)}" for k, x in pairs)
    return line, "logfmt", head, v.level, {}


def _gokit(c: _Line, v: _Variant) -> Out:  # go-kit log
    head, pairs = c.head_pairs()
    assert c.tpl is not None
    line = f"level={v.level} ts={c.clock.iso_ms} caller={c.tpl.caller.rsplit('/', 1)[-1]} msg={_quote(head)}"
    if pairs:
        line += "".join(f" {k}={_quote(x)}" for k, x in pairs)
    return line, "logfmt", head, v.level, {}


def _zap_json(c: _Line, v: _Variant) -> Out:
    head, pairs = c.head_pairs()
    assert c.tpl is not None
    rec: dict[str, Any] = {
        "level": v.level,
        "ts": c.clock.ms / 1000,
        "logger": c.logger,
        "caller": c.tpl.caller,
        "msg": head,
    }
    rec.update(pairs)
    return _json(rec), "json", head, v.level, {"log.logger": c.logger}


def _logrus_json(c: _Line, v: _Variant) -> Out:  # Go's encoding/json: keys in order
    head, pairs = c.head_pairs()
    rec: dict[str, Any] = dict(pairs)
    rec.update(level=v.level, msg=head, time=f"{c.clock.base('iso')}Z")
    return _json(dict(sorted(rec.items()))), "json", head, v.level, {}


def _pino(c: _Line, v: _Variant) -> Out:
    head, pairs = c.head_pairs()
    assert v.level is not None
    rec: dict[str, Any] = {
        "level": int(v.level),
        "time": c.clock.ms,
        "pid": c.pid,
        "hostname": c.host,
    }
    rec.update(pairs)
    rec["msg"] = head
    return _json(rec), "json", head, v.level, {"host.name": c.host, "process.pid": c.pid}


def _bunyan(c: _Line, v: _Variant) -> Out:
    head, pairs = c.head_pairs()
    assert v.level is not None
    rec: dict[str, Any] = {
        "name": c.service,
        "hostname": c.host,
        "pid": c.pid,
        "level": int(v.level),
    }
    rec.update(pairs)
    rec.update(msg=head, time=c.clock.iso_ms, v=0)
    fields = {"host.name": c.host, "process.pid": c.pid, "log.logger": c.service}
    return _json(rec), "json", head, v.level, fields


def _timestamp_level(c: _Line, v: _Variant) -> Out:
    clock = c.clock
    shape = c.pid % 3
    if shape == 0:
        line = f"{clock.iso_ms} {v.level} {c.msg}"
    elif shape == 1:
        line = f"{clock.base('ymd')}.{clock.frac:03d} [{v.level}] {c.msg}"
    else:
        line = f"[{clock.base('ymd')}] {v.level}: {c.msg}"
    return line, "timestamp_level", c.msg, v.level, {}


def _level_first(c: _Line, v: _Variant) -> Out:
    shape = c.pid % 3
    if shape == 2 and v.level in ("FATAL", "CRITICAL"):
        shape = 1  # written bare only by the lower levels (the parser's rule, and the usual use)
    line = (
        f"[{v.level}] {c.msg}"
        if shape == 0
        else f"{v.level}: {c.msg}"
        if shape == 1
        else f"{v.level} {c.msg}"
    )
    return line, "level_first", c.msg, v.level, {}


def _go_log(c: _Line, v: _Variant) -> Out:
    return f"{c.clock.base('slash')} {c.msg}", "go_log", c.msg, None, {}


def _windows_cbs(c: _Line, v: _Variant) -> Out:
    line = f"{c.clock.base('ymd')}, {v.level:<22}CBS    {c.msg}"
    return line, "windows_cbs", c.msg, v.level, {"service.name": "CBS"}


def _fail2ban_file(c: _Line, v: _Variant) -> Out:
    """fail2ban's own log file: a format the parser does not know; the whole line is the body."""
    line = f"{c.clock.log4j} fail2ban.actions        [{c.pid}]: NOTICE  {c.msg}"
    return line, None, line, None, {}


# name → (render, level vocabulary (None: states no level), is JSON, stream in a container)
_STYLES: dict[str, tuple[Callable[[_Line, _Variant], Out], str | None, bool, str]] = {
    "rfc3164": (_rfc3164, None, False, "stdout"),
    "rfc3164_pri": (_rfc3164_pri, "syslog", False, "stdout"),
    "rfc5424": (_rfc5424, "syslog", False, "stdout"),
    "syslog_iso": (_syslog_iso, None, False, "stdout"),
    "journald": (_journald, "syslog", True, "stdout"),
    "gelf": (_gelf, "syslog", True, "stdout"),
    "shipper": (_shipper, "lower", True, "stdout"),
    "plain": (_plain, None, False, "stderr"),
    "compose": (_compose, None, False, "stdout"),
    "cri": (_cri, None, False, "stdout"),
    "docker": (_docker, None, True, "stdout"),
    "klog": (_klog, "klog", False, "stderr"),
    "syslog_klog": (_syslog_klog, "klog", False, "stderr"),
    "journald_klog": (_journald_klog, "klog", True, "stderr"),
    "logcat": (_logcat, "logcat", False, "stdout"),
    "logcat_brief": (_logcat_brief, "logcat", False, "stdout"),
    "log4j": (_log4j, "log4j", False, "stdout"),
    "log4j_line": (_log4j_line, "log4j", False, "stdout"),
    "log4j_thread_first": (_log4j_thread_first, "logback", False, "stdout"),
    "logback": (_logback, "logback", False, "stdout"),
    "spring_boot": (_spring_boot, "logback", False, "stdout"),
    "kafka": (_kafka, "log4j", False, "stdout"),
    "zookeeper": (_zookeeper, "log4j", False, "stdout"),
    "python": (_python, "python", False, "stderr"),
    "python_default": (_python_default, "python", False, "stderr"),
    "gunicorn": (_gunicorn, "python", False, "stderr"),
    "celery": (_celery, "python", False, "stderr"),
    "python_json": (_python_json, "python", True, "stderr"),
    "logstash_json": (_logstash_json, "logback", True, "stdout"),
    "ecs_json": (_ecs_json, "log4j", True, "stdout"),
    "postgres": (_postgres, "postgres", False, "stderr"),
    "pg_syslog": (_pg_syslog, None, False, "stdout"),
    "pg_syslog_pri": (_pg_syslog_pri, "syslog", False, "stdout"),
    "pg_journald": (_pg_journald, "syslog", True, "stdout"),
    "pg_plain": (_pg_plain, None, False, "stderr"),
    "mysql": (_mysql, "mysql", False, "stderr"),
    "mysql_client": (_mysql_client, "generic", False, "stderr"),
    "redis": (_redis, "redis", False, "stdout"),
    "nginx_error": (_nginx_error, "nginx", False, "stderr"),
    "apache_error": (_apache_error, "nginx", False, "stderr"),
    "access": (_access, None, False, "stdout"),
    "access_syslog": (_access_syslog, None, False, "stdout"),
    "zap_console": (_zap_console, "zapc", False, "stderr"),
    "zap_json": (_zap_json, "zap", True, "stderr"),
    "logrus_json": (_logrus_json, "logrus", True, "stderr"),
    "logfmt": (_logfmt, "logrus", False, "stderr"),
    "gokit": (_gokit, "gokit", False, "stderr"),
    "pino": (_pino, "pino", True, "stdout"),
    "bunyan": (_bunyan, "pino", True, "stdout"),
    "timestamp_level": (_timestamp_level, "generic", False, "stdout"),
    "level_first": (_level_first, "generic", False, "stdout"),
    "go_log": (_go_log, None, False, "stderr"),
    "windows_cbs": (_windows_cbs, "cbs", False, "stdout"),
    "fail2ban_file": (_fail2ban_file, None, False, "stdout"),
}
_WRAPPERS = frozenset({"cri", "docker", "compose"})
_OPTIONAL_LEVEL = frozenset({"shipper"})  # writes a level only when it agrees
_PLAIN_TEXT = frozenset({"plain", "pg_plain"})  # the text alone: must not look like a format

# Who writes a line → the formats it is written in, with weights: line formats, JSON records,
# and the formats inside a container wrapper (cri, docker, compose).
_SOURCES: dict[str, tuple[dict[str, float], dict[str, float], dict[str, float]]] = {
    "syslog": (
        {"rfc3164": 4, "rfc3164_pri": 1.5, "rfc5424": 1.5, "syslog_iso": 1.5, "plain": 0.4},
        {"journald": 3, "gelf": 0.4, "shipper": 0.4},
        {},
    ),
    "access": (
        {"access": 6, "access_syslog": 0.6, "cri": 1.5, "compose": 0.2},
        {"docker": 2, "shipper": 0.4},
        {"access": 1},
    ),
    "nginx_error": (
        {"nginx_error": 5, "cri": 1},
        {"docker": 2, "shipper": 0.3},
        {"nginx_error": 1},
    ),
    "apache_error": ({"apache_error": 5}, {"docker": 1, "shipper": 0.3}, {"apache_error": 1}),
    "jvm": (
        {
            "log4j": 2,
            "log4j_line": 1,
            "log4j_thread_first": 1.5,
            "logback": 1,
            "spring_boot": 2.5,
            "cri": 1.2,
            "compose": 0.2,
        },
        {"logstash_json": 2, "ecs_json": 1, "docker": 1.5, "shipper": 0.3},
        {"spring_boot": 2, "log4j_thread_first": 1, "logback": 1, "logstash_json": 1},
    ),
    "kafka_broker": ({"kafka": 5, "cri": 1}, {"docker": 1, "shipper": 0.3}, {"kafka": 1}),
    "zookeeper": ({"zookeeper": 5, "cri": 0.5}, {"docker": 1}, {"zookeeper": 1}),
    "k8s": (
        {"klog": 2, "cri": 3, "syslog_klog": 0.6},
        {"journald_klog": 0.6, "docker": 0.5, "shipper": 1},
        {"klog": 1},
    ),
    "raw": ({"plain": 4, "cri": 2, "compose": 0.4}, {"docker": 2, "shipper": 0.3}, {"plain": 1}),
    "python": (
        {"python": 3, "python_default": 1, "gunicorn": 1, "cri": 1, "compose": 0.3},
        {"python_json": 2, "ecs_json": 0.5, "docker": 1, "gelf": 0.3},
        {"python": 1, "gunicorn": 1, "python_json": 1},
    ),
    "celery": (
        {"celery": 3, "python_default": 0.5, "cri": 0.7},
        {"python_json": 1, "docker": 1},
        {"celery": 1},
    ),
    "go": (
        {"logfmt": 2.5, "gokit": 1, "zap_console": 1.5, "go_log": 1, "cri": 1.5},
        {"zap_json": 2, "logrus_json": 1.5, "docker": 1.5},
        {"zap_json": 2, "logfmt": 1, "go_log": 0.5},
    ),
    "golog": ({"go_log": 4, "cri": 1}, {"docker": 1, "shipper": 0.2}, {"go_log": 1}),
    "node": (
        {"level_first": 0.5, "timestamp_level": 0.5, "cri": 1.5},
        {"pino": 3, "bunyan": 1.5, "docker": 1.5},
        {"pino": 2, "bunyan": 0.5},
    ),
    "app": (
        {
            "python": 1,
            "python_default": 0.3,
            "gunicorn": 0.3,
            "logfmt": 1,
            "gokit": 0.3,
            "zap_console": 0.5,
            "go_log": 0.3,
            "timestamp_level": 1.5,
            "level_first": 1,
            "logback": 0.3,
            "log4j": 0.5,
            "spring_boot": 0.5,
            "plain": 0.5,
            "compose": 0.3,
            "cri": 1,
        },
        {
            "pino": 1,
            "bunyan": 0.5,
            "zap_json": 0.5,
            "logrus_json": 0.5,
            "python_json": 0.3,
            "logstash_json": 0.3,
            "ecs_json": 0.5,
            "gelf": 0.3,
            "shipper": 1,
            "docker": 1,
        },
        {"pino": 1, "zap_json": 1, "logfmt": 0.5, "timestamp_level": 0.5, "python": 0.5},
    ),
    "postgres": (
        {"postgres": 4, "pg_syslog": 1, "pg_syslog_pri": 0.7, "pg_plain": 0.3, "cri": 1},
        {"pg_journald": 1, "docker": 1.5, "shipper": 0.3},
        {"postgres": 1},
    ),
    "mysql": ({"mysql": 5, "cri": 0.5}, {"docker": 1.5, "shipper": 0.2}, {"mysql": 1}),
    "mysql_client": ({"mysql_client": 3, "cri": 1}, {"docker": 1}, {"mysql_client": 1}),
    "redis": ({"redis": 5, "cri": 0.5}, {"docker": 1.5}, {"redis": 1}),
    "logcat": ({"logcat": 4, "logcat_brief": 2}, {"shipper": 1}, {}),
    "windows_cbs": ({"windows_cbs": 5}, {"shipper": 1}, {}),
    "fail2ban": ({"fail2ban_file": 3, "plain": 1}, {"shipper": 0.5}, {}),
}
# application lines whose level is what tells them apart (debug noise): the application's
# styles that write a level
_LEVELLESS_STYLES = frozenset({"go_log", "plain", "compose", "shipper", "gelf"})
_SOURCES["app_levelled"] = (
    {k: w for k, w in _SOURCES["app"][0].items() if k not in _LEVELLESS_STYLES},
    {k: w for k, w in _SOURCES["app"][1].items() if k not in _LEVELLESS_STYLES},
    {k: w for k, w in _SOURCES["app"][2].items() if k not in _LEVELLESS_STYLES},
)
_NOT_IN_COMPOSE = frozenset({"logfmt", "gokit"})  # logfmt is found anywhere in a line

# syslog program → facility, systemd unit
_PROGRAMS: dict[str, tuple[int, str | None]] = {
    "sshd": (4, "ssh.service"),
    "sudo": (10, None),
    "kernel": (0, None),
    "systemd": (3, "init.scope"),
    "CRON": (9, "cron.service"),
    "anacron": (9, "anacron.service"),
    "named": (3, "named.service"),
    "NetworkManager": (3, "NetworkManager.service"),
    "dockerd": (3, "docker.service"),
    "gitlab-runner": (3, "gitlab-runner.service"),
    "kubelet": (3, "kubelet.service"),
}
_SOURCE_PROGRAM = {
    "postgres": "postgres",
    "mysql": "mysqld",
    "redis": "redis-server",
    "nginx_error": "nginx",
    "access": "nginx",
    "apache_error": "httpd",
    "kafka_broker": "kafka",
    "zookeeper": "zookeeper",
    "mysql_client": "mysql",
    "fail2ban": "fail2ban",
    "windows_cbs": "CBS",
}
_TAG = re.compile(r"^([A-Za-z][\w.-]*)(?:\[(\{pid\}|\d+)\])?: (.*)$", re.DOTALL)
_JVM_SOURCES = frozenset({"jvm", "kafka_broker", "zookeeper"})
_DB_SOURCES = frozenset({"postgres", "mysql", "redis"})
_LEVELLESS_SOURCES = frozenset({"access", "raw", "golog", "fail2ban"})  # their programs state none
_JVM_LOGGERS = (
    "com.example.orders.OrderService",
    "com.example.payments.PaymentClient",
    "com.example.users.UserRepository",
    "org.springframework.web.servlet.DispatcherServlet",
)
_JVM_THREADS = (
    "main",
    "http-nio-8080-exec-1",
    "http-nio-8080-exec-4",
    "http-nio-8080-exec-10",
    "scheduling-1",
    "pool-2-thread-3",
    "kafka-coordinator-heartbeat-thread | billing-consumer",
)
_GO_CALLERS = (
    "server/handler.go:88",
    "internal/store/store.go:214",
    "cmd/worker/main.go:61",
    "pkg/client/client.go:132",
)
_KLOG_FILES = (
    ("Back-off", ("pod_workers.go", 1301)),
    ("probe", ("prober.go", 107)),
    ("eviction", ("eviction_manager.go", 366)),
)
_LOGGER_LIKE = re.compile(r"^(?:\[[^\]]*\]\s+)?[\w.$]+(?:\[[^\]]*\])?(?::\d+)?\s*[-:]\s")
_LOOKS_FORMATTED = re.compile(
    r"^(?:\[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL)\]?:?\s|\d|<\d|[VDIWEFA]/|\{"
    r"|(?:level|lvl|time|ts|t|msg)=)|\s(?:level|msg)="
)


def _abbreviate(logger: str, width: int = 36) -> str:
    """logback's %logger{width}: leading package names shortened to their first letter."""
    out = _ABBREVIATED.get((logger, width))
    if out is None:
        parts = logger.split(".")
        i = 0
        while len(".".join(parts)) > width and i < len(parts) - 1:
            parts[i] = parts[i][:1]
            i += 1
        out = _ABBREVIATED[(logger, width)] = ".".join(parts)
    return out


_ABBREVIATED: dict[tuple[str, int], str] = {}


class _Template:
    """One template, compiled: what it draws, who writes it, and the ways it is written."""

    __slots__ = (
        "caller",
        "db",
        "facility",
        "family",
        "fmt",
        "json",
        "json_cum",
        "key",
        "keys",
        "klog_file",
        "line_cum",
        "lines",
        "logger",
        "native",
        "own",
        "pairs",
        "prog",
        "prog_pid",
        "source",
        "unit",
    )

    def __init__(self, family: Family, template: str | Msg, index: int) -> None:
        msg = template if isinstance(template, Msg) else Msg(template, family.source)
        self.family = family
        self.key = f"{family.name}/{index}"  # the template's identity: the truth of grouping
        self.source = msg.source
        self.db = msg.source in _DB_SOURCES
        text = msg.text
        self.prog = _SOURCE_PROGRAM.get(msg.source, "")
        self.prog_pid: str | None = "{pid}"
        if msg.source in ("syslog", "k8s"):
            m = _TAG.match(text)
            if m is not None:
                self.prog, self.prog_pid, text = m.group(1), m.group(2), m.group(3)
                if msg.source == "k8s" and self.prog_pid is None:
                    self.prog_pid = "{pid}"  # kubelet[1234]: under systemd
            elif msg.source == "syslog":
                raise ValueError(f"{family.name}: a syslog template starts with 'program[pid]: '")
        self.facility, self.unit = _PROGRAMS.get(self.prog, (1, None))
        if msg.source == "postgres":
            self.facility, self.unit = 16, "postgresql@17-main.service"
        self.fmt = text
        self.logger = msg.logger
        names = {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}
        names |= {n for _l, n, _s, _c in string.Formatter().parse(msg.logger or "") if n}
        self.keys = tuple(sorted(names))
        self.pairs = _TRAILING.match(text) is not None
        self.klog_file = next((f for word, f in _KLOG_FILES if word in text), ("kubelet.go", 2412))
        self.caller = _GO_CALLERS[index % len(_GO_CALLERS)]
        vocab = _SOURCE_VOCAB.get(msg.source)
        self.native: tuple[str, str] | None = None
        if msg.native is not None:
            assert vocab is not None, (
                f"{family.name}: a native level needs a source with a vocabulary"
            )
            self.native = (vocab, msg.native)
        self.own = self.own_word()
        lines, json_ = self._variants(text)
        if not lines and not json_:
            raise ValueError(f"{family.name}: {text!r} can be written in no format")
        self.lines = [v for v, _w in lines]
        self.line_cum = list(accumulate(w for _v, w in lines))
        self.json = [v for v, _w in json_]
        self.json_cum = list(accumulate(w for _v, w in json_))

    def own_word(self) -> str:
        """The level word the program itself writes (PostgreSQL's, for its syslog form)."""
        if self.native is not None:
            return self.native[1]
        return _VOCAB["postgres"].get(self.family.severity, "LOG")

    def _variant(self, style: str, dummy: str) -> _Variant | None:
        fn, vocab, _is_json, stream = _STYLES[style]
        if style in _PLAIN_TEXT:
            shown = f"{self.own_word()}:  {dummy}" if style == "pg_plain" else dummy
            if _LOOKS_FORMATTED.search(shown) or (
                style == "pg_plain" and _LEVEL_FIRST.match(shown)
            ):
                return None
        if style == "timestamp_level" and (_LOGGER_LIKE.match(dummy) or _LEVEL_FIRST.match(dummy)):
            return None
        if style in ("level_first", "mysql_client") and dummy[:1].isspace():
            return None
        level, agrees = _written(vocab, self.family.severity, self.native)
        if style in _OPTIONAL_LEVEL and self.source in _LEVELLESS_SOURCES:
            level = None
        elif not agrees:
            if style not in _OPTIONAL_LEVEL:
                return None
            level = None
        return _Variant(fn, level, None, stream)

    def _variants(
        self, text: str
    ) -> tuple[list[tuple[_Variant, float]], list[tuple[_Variant, float]]]:
        dummy = text.format_map(_Dummy())
        line_styles, json_styles, inner_styles = _SOURCES[self.source]
        out: tuple[list[tuple[_Variant, float]], list[tuple[_Variant, float]]] = ([], [])
        for styles, bucket in ((line_styles, out[0]), (json_styles, out[1])):
            for style, weight in styles.items():
                if style not in _WRAPPERS:
                    v = self._variant(style, dummy)
                    if v is not None:
                        bucket.append((v, weight))
                    continue
                inner = [
                    (iv, w)
                    for name, w in inner_styles.items()
                    if not (style == "compose" and name in _NOT_IN_COMPOSE)
                    for iv in [self._variant(name, dummy)]
                    if iv is not None
                ]
                total = sum(w for _iv, w in inner)
                if not total:
                    continue
                fn = _STYLES[style][0]
                bucket.extend(
                    (_Variant(fn, None, iv, iv.stream), weight * w / total) for iv, w in inner
                )
        return out


class _Dummy(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "x"


_COMPILED: list[tuple[list[float], list[list[_Template]]]] = []


def _compiled() -> tuple[list[float], list[list[_Template]]]:
    """Per family (cumulative weights) its compiled templates; built once."""
    if not _COMPILED:
        cum = list(accumulate(f.weight for f in FAMILIES))
        tpls = [[_Template(f, t, i) for i, t in enumerate(f.templates)] for f in FAMILIES]
        _COMPILED.append((cum, tpls))
    return _COMPILED[0]


def generate(
    n: int,
    seed: int = defaults.SAMPLE_SEED,
    start: datetime | None = None,
    json_share: float = defaults.SAMPLE_JSON_SHARE,
) -> Iterator[tuple[Sample, bytes]]:
    """Yield ``n`` (sample, Kafka value) pairs; the value is a log line or a JSON record.

    Deterministic for a given ``seed``. About ``json_share`` of the values are JSON objects
    (journald, Docker json-file, pino, zap, logrus, logstash, ECS, GELF, a shipper's record);
    the others are lines in the formats that fit the family (see the module's doc).
    """
    cum, by_family = _compiled()
    total = cum[-1]
    r = random.Random(seed)
    rnd = r.random
    t0 = start or datetime(2026, 11, 1, tzinfo=UTC)
    if t0.tzinfo is None:
        t0 = t0.replace(tzinfo=UTC)
    clock = _Clock(round(t0.timestamp() * 1000))
    c = _Line(r, clock)
    hosts = [f"web-{i:02d}" for i in range(1, 9)] + [f"db-{i:02d}" for i in range(1, 4)]
    db_hosts = hosts[-3:]
    n_hosts = len(hosts)
    fill = _FILL
    for _ in range(n):
        fi = bisect(cum, rnd() * total)
        family = FAMILIES[fi]
        tpls = by_family[fi]
        tpl = tpls[int(rnd() * len(tpls))]
        clock.advance(int(rnd() * 400) + 1)
        values: dict[str, object] = {k: fill[k](r) for k in tpl.keys if k not in _TIME_KEYS}
        if "ts_clf" in tpl.keys:
            values["ts_clf"] = clock.base("clf")
        if "ts_iso" in tpl.keys:
            values["ts_iso"] = f"{clock.base('iso')}Z"
        c.msg = tpl.fmt.format_map(values)
        c.split = None
        c.tpl = tpl
        c.host = hosts[int(rnd() * n_hosts)]
        pid = values.get("pid")
        if tpl.prog_pid is None:
            c.pid = 0
        elif tpl.prog_pid != "{pid}":
            c.pid = int(tpl.prog_pid)
        else:
            c.pid = pid if isinstance(pid, int) else 100 + int(rnd() * 99_900)
        svc = values.get("svc")
        c.service = svc if isinstance(svc, str) else _SERVICES[int(rnd() * len(_SERVICES))]
        c.prog = tpl.prog
        if tpl.prog:
            c.service = tpl.prog
        c.facility = tpl.facility
        c.unit = tpl.unit
        c.native = tpl.own
        java = _JVM_LOGGERS[int(rnd() * len(_JVM_LOGGERS))]
        if tpl.logger is not None:
            c.logger = tpl.logger.format_map(values) if "{" in tpl.logger else tpl.logger
        elif tpl.source in _JVM_SOURCES:
            c.logger = java
        else:
            c.logger = f"{c.service}.{('worker', 'api', 'db')[int(rnd() * 3)]}"
        c.jlogger = c.logger if tpl.source in _JVM_SOURCES else java
        if tpl.db:
            c.host = db_hosts[int(rnd() * len(db_hosts))]
        c.thread = (
            "SessionTracker"
            if tpl.source == "zookeeper"
            else _JVM_THREADS[int(rnd() * len(_JVM_THREADS))]
        )
        if (rnd() < json_share and tpl.json) or not tpl.lines:
            variants, vcum = tpl.json, tpl.json_cum
        else:
            variants, vcum = tpl.lines, tpl.line_cum
        variant = variants[bisect(vcum, rnd() * vcum[-1])] if len(variants) > 1 else variants[0]
        line, fmt, body, level, fields = variant.fn(c, variant)
        sample = Sample(
            body.strip(),
            family.severity,
            family.event_type,
            family.category,
            family.name,
            c.host,
            c.service,
            fmt,
            level,
            fields,
            tpl.key,
        )
        yield sample, line.encode()
