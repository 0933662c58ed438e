"""Realistic synthetic log lines with their true labels, for the demo, tests and benchmarks.

Each *family* is one kind of line a real fleet emits (sshd, nginx, kernel, JVM, ...), written
as several templates whose variable parts (hosts, IPs, pids, paths, durations) are drawn
from a seeded generator, so the same seed always yields the same lines. The family's label is
the ground truth a careful person would give; ``needs_rule`` families are the ones the default
rules are meant to cover, the others are application-specific lines only a model or a person
can label.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from enrich import defaults

Fill = Callable[[random.Random], dict[str, object]]


@dataclass(frozen=True)
class Family:
    name: str
    weight: float
    severity: str
    event_type: str
    category: str
    templates: tuple[str, ...]
    covered_by_rules: bool = True


@dataclass(frozen=True)
class Sample:
    text: str
    severity: str
    event_type: str
    category: str
    family: str
    host: str
    service: str


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
    "java.lang.OutOfMemoryError: Java heap space",
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


def _ip(r: random.Random) -> str:
    return f"{r.choice((10, 172, 192, 203, 81))}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def _hex(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def _fill(r: random.Random) -> dict[str, object]:
    return {
        "ip": _ip(r),
        "ip2": _ip(r),
        "port": r.randint(1024, 65535),
        "pid": r.randint(100, 99999),
        "user": r.choice(_USERS),
        "svc": r.choice(_SERVICES),
        "unit": r.choice(_UNITS),
        "path": r.choice(_PATHS) + (f"/{r.randint(1, 99999)}" if r.random() < 0.5 else ""),
        "agent": r.choice(_AGENTS),
        "bytes": r.randint(0, 250_000),
        "ms": r.randint(1, 30_000),
        "ms_small": round(r.uniform(0.1, 80.0), 3),
        "pct": r.randint(85, 100),
        "dev": r.choice(("sda", "sdb", "nvme0n1", "vda", "xvdf")),
        "sector": r.randint(1000, 999_999_999),
        "proc": r.choice(_PROCS),
        "hex": _hex(r, 12),
        "sha": _hex(r, 43),
        "jexc": r.choice(_JAVA_EXC),
        "pyexc": r.choice(_PY_EXC),
        "cls": r.choice(("OrderService", "PaymentClient", "UserRepository", "CacheLoader")),
        "line": r.randint(10, 900),
        "domain": r.choice(_DOMAINS),
        "table": r.choice(_TABLES),
        "n": r.randint(1, 5000),
        "seq": r.randint(1, 10_000_000),
        "node": f"node-{r.randint(1, 24)}",
        "uuid": f"{_hex(r, 8)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 12)}",
        "status2": r.choice((200, 201, 204)),
        "status3": r.choice((301, 302, 304)),
        "status4": r.choice((400, 401, 403, 404, 429)),
        "status5": r.choice((500, 502, 503, 504)),
        "method": r.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE")),
        "exit": r.choice((1, 2, 137, 139, 143)),
        "gb": r.randint(1, 512),
        "job": r.choice(
            (
                "/usr/local/bin/backup.sh",
                "/opt/scripts/rotate-logs",
                "certbot renew -q",
                "run-parts /etc/cron.hourly",
                "/usr/bin/php /var/www/cron.php",
            )
        ),
        "topic": r.choice(("orders", "payments", "clickstream", "audit")),
        "group": r.choice(("billing-consumer", "search-indexer", "fraud-detector")),
        "build": r.randint(100, 9999),
        "container": _hex(r, 12),
        "image": r.choice(
            ("nginx:1.27", "postgres:17", "redis:7.4", "registry.local/orders:2.3.1")
        ),
        "file": r.choice(
            ("report.pdf", "export.csv", "backup.tar.gz", "avatar.png", "invoice-2026.xlsx")
        ),
        "kb": r.randint(1, 90_000),
    }


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
    ),
    Family(
        "sudo",
        2,
        "INFO",
        "Authentication and Authorization",
        "Connectivity and Security",
        (
            "sudo: {user} : TTY=pts/{n} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart {unit}",
            "sudo: pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={n})",
        ),
    ),
    Family(
        "sudo_denied",
        1,
        "WARNING",
        "Security and Anomalies",
        "Connectivity and Security",
        (
            "sudo: {user} : user NOT in sudoers ; TTY=pts/{n} ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash",
            "sudo: {user} : 3 incorrect password attempts ; TTY=pts/{n} ; PWD=/home/{user} ; USER=root ; COMMAND=/bin/su",
        ),
    ),
    Family(
        "http_2xx",
        20,
        "INFO",
        "User Interactions",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "{status2}"),),
    ),
    Family(
        "http_3xx",
        3,
        "INFO",
        "User Interactions",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "{status3}"),),
    ),
    Family(
        "http_4xx",
        5,
        "WARNING",
        "User Interactions",
        "Application & Middleware",
        (_ACCESS.replace("{status}", "{status4}"),),
    ),
    Family(
        "http_5xx",
        2,
        "ERROR",
        "Network Communication",
        "Application & Middleware",
        (
            _ACCESS.replace("{status}", "{status5}"),
            "[error] {pid}#0: *{n} upstream timed out (110: Connection timed out) while reading response "
            'header from upstream, client: {ip}, server: {domain}, request: "{method} {path} HTTP/1.1"',
        ),
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
            "health check passed for {svc} in {ms_small}ms",
        ),
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
    ),
    Family(
        "disk_full",
        1,
        "CRITICAL",
        "Performance and Resources",
        "Hardware Infrastructure",
        (
            "write /var/lib/{svc}/data.{n}: No space left on device",
            "filesystem /dev/{dev}1 mounted on /var is {pct}% full ({gb}G free of {gb}G)",
            "kubelet: eviction manager: attempting to reclaim ephemeral-storage, disk usage {pct}%",
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
    ),
    Family(
        "java_exception",
        3,
        "ERROR",
        "Operations on files and apps",
        "Application & Middleware",
        (
            "ERROR [http-nio-8080-exec-{n}] c.e.{cls} - Request failed: {jexc}: unexpected value at index {n}",
            'Exception in thread "main" {jexc}',
            "\tat com.example.{cls}.handle({cls}.java:{line})",
            "Caused by: {jexc}: {svc} returned no data",
        ),
    ),
    Family(
        "python_exception",
        2,
        "ERROR",
        "Operations on files and apps",
        "Application & Middleware",
        (
            "Traceback (most recent call last):",
            '  File "/app/{svc}/handlers.py", line {line}, in process',
            "{pyexc}: invalid literal for int() with base 10: '{hex}'",
            "ERROR:{svc}.worker:Task {uuid} raised unexpected: {pyexc}('{hex}')",
        ),
    ),
    Family(
        "db_connection",
        2,
        "ERROR",
        "Network Communication",
        "Datas",
        (
            'psql: error: connection to server at "{domain}" ({ip}), port 5432 failed: Connection refused',
            'FATAL:  password authentication failed for user "{user}"',
            "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
            "com.zaxxer.hikari.pool.HikariPool - HikariPool-1 - Connection is not available, request timed out after {ms}ms.",
            "ERROR 2003 (HY000): Can't connect to MySQL server on '{domain}:3306' (111)",
        ),
    ),
    Family(
        "db_query",
        2,
        "WARNING",
        "Performance and Resources",
        "Datas",
        (
            "LOG:  duration: {ms}.{n} ms  statement: SELECT * FROM {table} WHERE id = {n}",
            "ERROR:  deadlock detected DETAIL: Process {pid} waits for ShareLock on transaction {seq}",
            'ERROR:  duplicate key value violates unique constraint "{table}_pkey"',
            "# Query_time: {ms_small}  Lock_time: 0.000{n}  Rows_sent: {n}  Rows_examined: {sector}",
        ),
    ),
    Family(
        "tls",
        2,
        "ERROR",
        "Security and Anomalies",
        "Connectivity and Security",
        (
            "x509: certificate has expired or is not yet valid: current time {ts_iso} is after {ts_iso}",
            "SSL routines:ssl3_read_bytes:sslv3 alert certificate unknown",
            "http: TLS handshake error from {ip}:{port}: remote error: tls: bad certificate",
            "certificate for {domain} expires in {n} days",
            "curl: (60) SSL certificate problem: unable to get local issuer certificate",
        ),
    ),
    Family(
        "dns",
        2,
        "ERROR",
        "Network Communication",
        "Connectivity and Security",
        (
            "dial tcp: lookup {domain} on {ip}:53: no such host",
            "getaddrinfo ENOTFOUND {domain}",
            "Temporary failure in name resolution: {domain}",
            "named[{pid}]: client @0x{hex} {ip}#{port} ({domain}): query failed (SERVFAIL) for {domain}/IN/A",
        ),
    ),
    Family(
        "kafka",
        2,
        "WARNING",
        "State change",
        "Application & Middleware",
        (
            "[Consumer clientId={svc}-{n}, groupId={group}] Request joining group due to: need to re-join with the given member-id",
            "[Consumer clientId={svc}-{n}, groupId={group}] Revoke previously assigned partitions {topic}-{n}",
            "[Producer clientId={svc}] Got error produce response with correlation id {seq} on topic-partition {topic}-{n}, retrying",
            "Client session timed out, have not heard from server in {ms}ms for sessionid 0x{hex}",
            "[GroupCoordinator 1]: Preparing to rebalance group {group} in state PreparingRebalance",
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
    ),
    Family(
        "container",
        2,
        "WARNING",
        "State change",
        "Software Infrastructure",
        (
            "kubelet: Back-off restarting failed container {svc} in pod {svc}-{hex}",
            "containerd: shim disconnected id={container} namespace=k8s.io",
            "dockerd: container {container} ({image}) exited with code {exit}",
            "kubelet: Container {svc} failed liveness probe, will be restarted",
        ),
    ),
    Family(
        "firewall",
        2,
        "WARNING",
        "Security and Anomalies",
        "Connectivity and Security",
        (
            "kernel: [UFW BLOCK] IN=eth0 OUT= MAC={hex} SRC={ip} DST={ip2} LEN=44 PROTO=TCP SPT={port} DPT=22",
            "fail2ban.actions: NOTICE [sshd] Ban {ip}",
        ),
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
            "NetworkManager[{pid}]: <info> device (eth{n}): state change: activated -> unavailable",
        ),
    ),
    Family(
        "resources",
        2,
        "WARNING",
        "Performance and Resources",
        "Application & Middleware",
        (
            "[GC pause (G1 Evacuation Pause) (young) {kb}K->{kb}K({gb}G), {ms_small} secs]",
            "CPU usage on {node} is {pct}% for the last 5 minutes",
            "thread pool {svc}-workers exhausted: {n} tasks queued",
        ),
    ),
    Family(
        "ci",
        1,
        "INFO",
        "Operations on files and apps",
        "Automation & CI/CD",
        (
            "Jenkins: Build #{build} of {svc}-pipeline finished: SUCCESS",
            "gitlab-runner[{pid}]: Job succeeded duration_s={ms_small} job={build} project={n} runner={hex}",
            "argocd: application {svc} sync status Synced, health Healthy (revision {hex})",
        ),
    ),
    Family(
        "debug_noise",
        6,
        "DEBUG",
        "Useless",
        "Application & Middleware",
        (
            "DEBUG cache hit key=user:{n} ttl={ms}",
            "DEBUG [{svc}] entering method process() with {n} items",
            "debug: flushed {n} metrics to buffer",
        ),
    ),
    # Application-specific lines: no default rule knows them; the model and people must.
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


def generate(
    n: int,
    seed: int = defaults.SAMPLE_SEED,
    start: datetime | None = None,
    json_share: float = defaults.SAMPLE_JSON_SHARE,
) -> Iterator[tuple[Sample, bytes]]:
    """Yield ``n`` (sample, Kafka value) pairs; the value is a plain line or a JSON record.

    Deterministic for a given ``seed``. About ``json_share`` of the values are JSON objects
    with the text in ``message`` and extra fields (host, service, level) to pass through.
    """
    r = random.Random(seed)
    families = list(FAMILIES)
    weights = [f.weight for f in families]
    t = start or datetime(2026, 11, 1, tzinfo=UTC)
    hosts = [f"web-{i:02d}" for i in range(1, 9)] + [f"db-{i:02d}" for i in range(1, 4)]
    for _ in range(n):
        family = r.choices(families, weights)[0]
        template = r.choice(family.templates)
        t += timedelta(milliseconds=r.randint(1, 400))
        values = _fill(r)
        values["ts_clf"] = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
        values["ts_iso"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        text = template.format(**values)
        host = r.choice(hosts)
        service = str(values["svc"])
        sample = Sample(
            text, family.severity, family.event_type, family.category, family.name, host, service
        )
        if r.random() < json_share:
            record = {
                "@timestamp": values["ts_iso"],
                "host": host,
                "service": service,
                "message": text,
            }
            value = json.dumps(record).encode()
        else:
            value = f"{t.strftime('%b %d %H:%M:%S')} {host} {text}".encode()
        yield sample, value
