# ruff: noqa: E501  (the tables are real log lines, kept whole)
"""The default rule pack on realistic message bodies, per domain.

A parser stage hands the rules only the message body of a line in a known format (no
timestamp, host, ``program[pid]:`` prefix or level word); a line in no known format is seen
whole. So every body below must be first-matched by its rule both alone and behind a syslog
header (RFC 3164 and RFC 5424); whole lines as programs write them must be matched on the
body the parser gives; and application-specific lines must stay unclaimed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from enrich.core.parse import LogFormats, builtin_formats
from enrich.core.records import LogRecord, decode
from enrich.core.rules import RuleSet, load_rules

# (program that writes it, message body, the rule that must match it first)
CASES: list[tuple[str, str, str]] = [
    # --- access lines (seen whole)
    (
        "nginx",
        '192.0.2.10 - - [01/Nov/2026:10:00:00 +0000] "GET /readyz HTTP/1.1" 200 2 "-" "kube-probe/1.31"',
        "http-health-check",
    ),
    (
        "nginx",
        '198.51.100.4 - - [01/Nov/2026:10:00:00 +0000] "POST /api/v1/orders HTTP/2.0" 502 157 "-" "okhttp/4.12.0"',
        "http-5xx",
    ),
    (
        "nginx",
        '203.0.113.9 - - [01/Nov/2026:10:00:00 +0000] "GET /admin/ HTTP/1.1" 403 153 "-" "Mozilla/5.0"',
        "http-auth-denied",
    ),
    (
        "nginx",
        '203.0.113.9 - bob [01/Nov/2026:10:00:00 +0000] "POST /oauth/token HTTP/1.1" 401 64 "-" "curl/8.5.0"',
        "http-auth-denied",
    ),
    (
        "nginx",
        '203.0.113.9 - - [01/Nov/2026:10:00:00 +0000] "GET /api/v2/search?q=a HTTP/1.1" 429 0 "-" "python-requests/2.32.3"',
        "http-rate-limited",
    ),
    (
        "nginx",
        '203.0.113.9 - - [01/Nov/2026:10:00:00 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "Mozilla/5.0"',
        "http-4xx",
    ),
    (
        "nginx",
        '192.0.2.10 - - [01/Nov/2026:10:00:00 +0000] "GET /cart HTTP/1.1" 301 169 "-" "Mozilla/5.0"',
        "http-3xx",
    ),
    (
        "nginx",
        '192.0.2.10 - - [01/Nov/2026:10:00:00 +0000] "GET /api/v1/heartbeat HTTP/1.1" 200 2 "-" "Go-http-client/1.1"',
        "http-2xx",
    ),
    # --- SSH, PAM, sudo, su, audit
    ("sshd", "Failed password for root from 203.0.113.5 port 52211 ssh2", "sshd-auth-failure"),
    (
        "sshd",
        "Failed publickey for git from 198.51.100.7 port 40022 ssh2: ED25519 SHA256:Zm9vYmFy",
        "sshd-auth-failure",
    ),
    ("sshd", "Invalid user test from 203.0.113.5 port 52212", "sshd-auth-failure"),
    (
        "sshd",
        "Connection closed by invalid user admin 203.0.113.5 port 52213 [preauth]",
        "sshd-auth-failure",
    ),
    (
        "sshd",
        "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root",
        "sshd-auth-failure",
    ),
    (
        "sshd",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root",
        "pam-auth-failure",
    ),
    (
        "sshd",
        "banner exchange: Connection from 203.0.113.5 port 52214: invalid format",
        "sshd-preauth-probe",
    ),
    (
        "sshd",
        "Accepted publickey for deploy from 192.0.2.10 port 50022 ssh2: RSA SHA256:YmFyYmF6",
        "sshd-auth-success",
    ),
    ("sshd", "Disconnected from user deploy 192.0.2.10 port 50022", "sshd-session-end"),
    ("sshd", "Server listening on :: port 22.", "sshd-server-state"),
    (
        "sudo",
        "   eve : 1 incorrect password attempt ; TTY=pts/2 ; PWD=/home/eve ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow",
        "sudo-denied",
    ),
    (
        "sudo",
        "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt-get upgrade",
        "sudo-command",
    ),
    ("su", "FAILED SU (to root) bob on pts/1", "su-failed"),
    ("su", "(to root) alice on pts/0", "su-success"),
    (
        "su",
        "pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)",
        "pam-session",
    ),
    ("systemd-logind", "New session 17 of user deploy.", "logind-session"),
    ("useradd", "new group: name=deploy, GID=1001", "user-account-change"),
    (
        "auditd",
        'type=AVC msg=audit(1793527200.5:77): avc:  denied  { name_connect } for  pid=4242 comm="httpd" dest=5432 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:postgresql_port_t:s0 tclass=tcp_socket permissive=0',
        "mac-policy-denied",
    ),
    # --- firewall
    (
        "kernel",
        "[UFW BLOCK] IN=ens3 OUT= MAC=52:54:00:ab:cd:ef SRC=203.0.113.77 DST=192.0.2.7 LEN=40 PROTO=TCP SPT=44321 DPT=23 WINDOW=1024 SYN URGP=0",
        "firewall-block",
    ),
    ("fail2ban", "[sshd] Ban 203.0.113.5", "firewall-block"),
    ("fail2ban", "[sshd] Unban 203.0.113.5", "fail2ban-activity"),
    (
        "kernel",
        "TCP: request_sock_TCP: Possible SYN flooding on port 80. Sending cookies.  Check SNMP counters.",
        "syn-flood",
    ),
    # --- kernel and hardware
    (
        "kernel",
        "Out of memory: Killed process 8123 (postgres) total-vm:9120344kB, anon-rss:7990212kB, file-rss:0kB, shmem-rss:0kB, UID:114 pgtables:15960kB oom_score_adj:0",
        "kernel-oom",
    ),
    (
        "kernel",
        "Memory cgroup out of memory: Killed process 5151 (node) total-vm:1720012kB, anon-rss:524288kB",
        "kernel-oom",
    ),
    (
        "kernel",
        "INFO: task kworker/u16:2:9981 blocked for more than 122 seconds.",
        "kernel-hung-task",
    ),
    (
        "kernel",
        "EDAC MC1: 3 CE memory read error on CPU_SrcID#1_Ha#0_Chan#2_DIMM#1 (channel:2 slot:1 page:0x7f1a2)",
        "hardware-error-corrected",
    ),
    (
        "kernel",
        "EXT4-fs error (device nvme0n1p2): ext4_lookup:1855: inode #393217: comm nginx: deleted inode referenced: 393301",
        "filesystem-error",
    ),
    (
        "kernel",
        "Buffer I/O error on dev sdb1, logical block 1024, async page read",
        "kernel-io-error",
    ),
    (
        "kernel",
        "orders[4242]: segfault at 8 ip 000055d1c2a3b4c5 sp 00007ffc8a9b0c10 error 4 in orders[55d1c2a00000+200000]",
        "segfault",
    ),
    (
        "postgres",
        'could not write to file "pg_wal/xlogtemp.4242": No space left on device',
        "disk-full",
    ),
    ("kernel", "ixgbe 0000:03:00.1 eth3: NIC Link is Down", "network-link-down"),
    (
        "kernel",
        "e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None",
        "network-link-up",
    ),
    (
        "kernel",
        "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
        "kernel-panic",
    ),
    # --- systemd and time
    (
        "systemd",
        "postgresql@16-main.service: Main process exited, code=killed, status=9/KILL",
        "systemd-unit-failed",
    ),
    (
        "systemd",
        "Failed to start postgresql@16-main.service - PostgreSQL Cluster 16-main.",
        "systemd-unit-failed",
    ),
    ("systemd", "kafka.service: Start request repeated too quickly.", "systemd-unit-failed"),
    (
        "systemd",
        "orders.service: Scheduled restart job, restart counter is at 5.",
        "systemd-unit-restarting",
    ),
    ("systemd", "Started orders.service - Orders API.", "systemd-unit-started"),
    (
        "systemd",
        "Starting postgresql@16-main.service - PostgreSQL Cluster 16-main...",
        "systemd-unit-started",
    ),
    ("systemd", "Stopping orders.service - Orders API...", "systemd-unit-stopped"),
    ("systemd", "orders.service: Deactivated successfully.", "systemd-unit-stopped"),
    ("chronyd", "System clock was stepped by -2.114 seconds", "clock-sync-problem"),
    (
        "systemd-timesyncd",
        "Contacted time server 192.0.2.123:123 (ntp.example.org).",
        "clock-synchronized",
    ),
    # --- containers and Kubernetes
    (
        "kubelet",
        "Back-off restarting failed container orders in pod orders-6c9f7d-x2x4z_shop(0b1c2d3e-aaaa-4bbb-8ccc-111122223333)",
        "container-crash",
    ),
    (
        "kubelet",
        'Readiness probe failed: Get "http://10.244.1.17:8080/ready": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        "k8s-probe-failed",
    ),
    ("kubelet", "Error: ErrImagePull", "k8s-image-pull-failed"),
    (
        "kubelet",
        'Successfully pulled image "registry.local/orders:2.4.0" in 3.41s (3.41s including waiting). Image size: 51234567 bytes.',
        "k8s-image-pulled",
    ),
    (
        "kube-scheduler",
        "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
        "k8s-failed-scheduling",
    ),
    (
        "kubelet",
        "The node was low on resource: ephemeral-storage. Threshold quantity: 2Gi, available: 1536Mi.",
        "k8s-pod-evicted",
    ),
    ("kube-controller-manager", "Node worker-7 status is now: NodeNotReady", "k8s-node-not-ready"),
    ("kube-controller-manager", "Scaled down replica set orders-6c9f7d to 2 from 3", "k8s-scaled"),
    (
        "dockerd",
        "container 9f8e7d6c5b4a (registry.local/orders:2.4.0) exited with code 1",
        "container-crash",
    ),
    # --- DNS and TLS
    ("orders", "dial tcp: lookup payments.internal on 192.0.2.53:53: no such host", "dns-failure"),
    ("curl", "curl: (6) Could not resolve host: api.example.com", "dns-failure"),
    (
        "orders",
        'Get "https://payments.example.com/v1/charge": tls: failed to verify certificate: x509: certificate signed by unknown authority',
        "tls-certificate",
    ),
    (
        "certbot",
        "Congratulations, all renewals succeeded: /etc/letsencrypt/live/shop.example.org/fullchain.pem (success)",
        "certbot-renewal-ok",
    ),
    ("certbot", "Challenge failed for domain shop.example.org", "certbot-renewal-failed"),
    # --- web servers and proxies (body forms)
    (
        "nginx",
        'upstream timed out (110: Connection timed out) while connecting to upstream, client: 203.0.113.9, server: shop.example.org, request: "GET /api/orders HTTP/1.1", upstream: "http://10.0.0.7:8080/api/orders"',
        "nginx-upstream-timeout",
    ),
    (
        "nginx",
        'connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.9, server: shop.example.org, request: "POST /api/cart HTTP/1.1", upstream: "http://10.0.0.8:8080/api/cart"',
        "nginx-upstream-refused",
    ),
    (
        "nginx",
        'no live upstreams while connecting to upstream, client: 203.0.113.9, server: shop.example.org, request: "GET / HTTP/1.1", upstream: "http://shop_backend/"',
        "nginx-no-live-upstreams",
    ),
    (
        "nginx",
        'limiting requests, excess: 10.640 by zone "login", client: 203.0.113.9, server: shop.example.org, request: "POST /login HTTP/1.1"',
        "nginx-rate-limited",
    ),
    (
        "haproxy",
        "Server shop_backend/web-3 is DOWN, reason: Layer7 timeout, check duration: 2001ms. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        "proxy-backend-down",
    ),
    # --- databases
    (
        "postgres",
        'FATAL:  password authentication failed for user "orders"',
        "database-connection-error",
    ),
    ("postgres", "FATAL:  sorry, too many clients already", "database-connection-error"),
    (
        "mysqld",
        "Access denied for user 'report'@'192.0.2.77' (using password: YES)",
        "database-access-denied",
    ),
    ("postgres", "ERROR:  deadlock detected", "database-query-problem"),
    (
        "postgres",
        "duration: 12034.551 ms  execute <unnamed>: SELECT o.* FROM orders o JOIN items i ON i.order_id = o.id WHERE o.created_at > $1",
        "database-query-problem",
    ),
    (
        "mysqld",
        "Deadlock found when trying to get lock; try restarting transaction",
        "database-deadlock",
    ),
    (
        "postgres",
        "checkpoint complete: wrote 4211 buffers (25.7%); 0 WAL file(s) added, 0 removed, 3 recycled; write=269.902 s, sync=0.011 s, total=269.944 s",
        "postgres-checkpoint",
    ),
    ("postgres", "database system is ready to accept connections", "database-ready"),
    (
        "postgres",
        "server process (PID 31337) was terminated by signal 11: Segmentation fault",
        "database-crash-recovery",
    ),
    (
        "redis",
        "4242:M 01 Nov 2026 10:00:00.123 # Background saving error",
        "redis-persistence-error",
    ),
    (
        "redis",
        "1:S 01 Nov 2026 10:00:00.123 * MASTER <-> REPLICA sync: Finished with success",
        "redis-replication-synced",
    ),
    (
        "orders",
        "MongoNetworkError: failed to connect to server [db-1.internal:27017] on first connect",
        "mongodb-connection-error",
    ),
    # --- messaging
    (
        "kafka",
        "[Consumer clientId=billing-1, groupId=billing-consumer] Connection to node 2 (kafka-2.kafka.svc/192.0.2.22:9092) could not be established. Node may not be available.",
        "kafka-connection-failed",
    ),
    (
        "kafka",
        "[Partition payments-7 broker=2] Shrinking ISR from 2,3,1 to 2. Leader: (highWatermark: 99120, endOffset: 99188). Out of sync replicas: (brokerId: 3, endOffset: 99120) (brokerId: 1, endOffset: 99120).",
        "kafka-isr-shrink",
    ),
    (
        "kafka",
        "[Producer clientId=orders-producer] Error while fetching metadata with correlation id 42 : {payments=LEADER_NOT_AVAILABLE}",
        "kafka-leader-not-available",
    ),
    (
        "kafka",
        "[Consumer clientId=billing-1, groupId=billing-consumer] Request joining group due to: need to re-join with the given member-id",
        "kafka-client-state",
    ),
    (
        "kafka",
        "Session establishment complete on server zk-2.internal/192.0.2.12:2181, session id = 0x20000b2c3d40002, negotiated timeout = 18000",
        "zookeeper-session-established",
    ),
    ("rabbitmq", "memory resource limit alarm set on node rabbit@mq-3.", "rabbitmq-resource-alarm"),
    # --- cron, batch, backups, CI/CD
    (
        "CRON",
        "(root) CMD (   test -x /etc/cron.daily/popularity-contest && /etc/cron.daily/popularity-contest --crond)",
        "cron-job",
    ),
    (
        "CRON",
        "(www-data) CMD (php /var/www/shop/artisan schedule:run >> /dev/null 2>&1)",
        "cron-job",
    ),
    (
        "airflow",
        "Marking task as FAILED. dag_id=nightly_export, task_id=dump_orders, run_id=scheduled__2026-10-31T00:00:00+00:00, execution_date=20261031T000000, start_date=20261101T000003, end_date=20261101T000211",
        "batch-job-failed",
    ),
    (
        "celery",
        "Task shop.tasks.send_receipt[7c1d2e3f-0000-4000-8000-00000000000c] succeeded in 0.0412s: None",
        "batch-job-succeeded",
    ),
    (
        "backup",
        'backup job nightly-pg failed: pg_dump: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed',
        "backup-failed",
    ),
    ("jenkins", "Finished: UNSTABLE", "ci-build-failed"),
    (
        "gitlab-runner",
        "Job succeeded                                       duration_s=88.1 job=4242 project=17 runner=Zx9y8w7v",
        "ci-cd",
    ),
    ("kubectl", 'deployment "shop" successfully rolled out', "deployment-rolled-out"),
    # --- runtimes
    (
        "orders",
        'Exception in thread "kafka-consumer-1" java.lang.OutOfMemoryError: Java heap space',
        "jvm-out-of-memory",
    ),
    ("orders", "java.lang.IllegalArgumentException: orderId must not be null", "jvm-exception"),
    (
        "orders",
        "\tat org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
        "jvm-exception",
    ),
    ("orders", "KeyError: 'customer_id'", "python-exception"),
    ("orders", "panic: assignment to entry in nil map", "runtime-panic"),
    (
        "orders",
        "(node:4242) UnhandledPromiseRejectionWarning: TypeError: Cannot read properties of undefined (reading 'total')",
        "nodejs-unhandled-rejection",
    ),
    (
        "ActivityManager",
        "ANR in com.example.shop (com.example.shop/.CheckoutActivity)",
        "android-anr",
    ),
    ("AndroidRuntime", "FATAL EXCEPTION: main", "android-fatal-exception"),
    (
        "Service Control Manager",
        "The Windows Update service terminated unexpectedly.  It has done this 3 time(s).",
        "windows-service-failed",
    ),
    # --- generic causes and catch-alls
    (
        "orders",
        'Post "http://10.0.0.9:8080/v1/stock": dial tcp 10.0.0.9:8080: connect: connection refused',
        "network-connection-error",
    ),
    ("orders", "open /var/lib/orders/cache/index.db: permission denied", "permission-denied"),
    (
        "consul",
        "health check failed for service orders-api: HTTP GET http://10.0.0.7:8080/healthz: 503 Service Unavailable",
        "health-check-failed",
    ),
    ("worker", "heartbeat from worker-7 seq=88213 ok", "heartbeat"),
    ("orders", "no heartbeat from worker-7 in 30s, marking it lost", "heartbeat-missed"),
]

# Application-specific lines the default rules must leave to the model and people.
UNCLAIMED = [
    "payment 7c1d2e3f declined by acquirer: insufficient funds (code 51)",
    "user alice added 3 items to cart 9f8e7d6c",
    "export job 7c1d2e3f wrote 1200 rows to /data/exports/backup.tar.gz",
    "uploaded backup.tar.gz (812 KB) to s3://orders-bucket/7c1d2e3f",
    "quota exceeded for tenant blue",
    "zorblax handshake phase two done with peer",
    "Started processing batch 12 of 40",
]

# Whole lines as programs write them -> the rule that must match the body the parser gives
# first (a line in no known format, like fail2ban's own log, is its own body; None: a near
# miss no rule may claim).
FULL_LINES: list[tuple[str, str | None]] = [
    (
        '2026-11-01 10:00:00.123 UTC [4242] FATAL:  password authentication failed for user "orders"',
        "database-connection-error",
    ),
    ("2026-11-01 10:00:00.123 UTC [4242] LOG:  checkpoint starting: time", "postgres-checkpoint"),
    (
        "2026-11-01 10:00:00.123 UTC [4242] LOG:  checkpoints are occurring too frequently (8 seconds apart)",
        "postgres-checkpoint-too-frequent",
    ),
    (
        "2026-11-01 10:00:00.123 UTC [4242] orders@shop ERROR:  deadlock detected",
        "database-query-problem",
    ),
    (
        "2026-11-01 10:00:00.123 UTC [4242] LOG:  duration: 5012.332 ms  statement: UPDATE stock SET qty = qty - 1 WHERE sku = 42",
        "database-query-problem",
    ),
    (
        '2026-11-01 10:00:00.123 UTC [4242] FATAL:  no pg_hba.conf entry for host "203.0.113.5", user "postgres", database "shop", no encryption',
        "database-access-denied",
    ),
    (
        "2026-11-01 10:00:00.123 UTC [1] LOG:  database system is ready to accept connections",
        "database-ready",
    ),
    (
        "2026-11-01T10:00:00.123456Z 42 [Warning] [MY-010055] [Server] IP address '203.0.113.5' could not be resolved: Name or service not known",
        "dns-failure",
    ),
    (
        "2026-11-01T10:00:00.123456Z 17 [Note] [MY-010914] [Server] Aborted connection 17 to db: 'shop' user: 'app' host: '10.0.0.5' (Got an error reading communication packets).",
        "database-connection-lost",
    ),
    (
        "2026-11-01T10:00:00.123456Z 0 [System] [MY-010931] [Server] /usr/sbin/mysqld: ready for connections. Version: '8.0.39'  socket: '/var/run/mysqld/mysqld.sock'  port: 3306  MySQL Community Server - GPL.",
        "database-ready",
    ),
    ("4242:M 01 Nov 2026 10:00:00.123 # Background saving error", "redis-persistence-error"),
    ("4242:C 01 Nov 2026 10:00:00.123 * DB saved on disk", "redis-saved"),
    ("1:S 01 Nov 2026 10:00:00.123 # Connection with master lost.", "redis-replication-lost"),
    ("1:M 01 Nov 2026 10:00:00.123 * Ready to accept connections tcp", "database-ready"),
    (
        "2026/11/01 10:00:00 [error] 31#31: *7 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 198.51.100.7, server: shop.example.org",
        "nginx-upstream-timeout",
    ),
    (
        "2026/11/01 10:00:00 [error] 31#31: *8 connect() failed (111: Connection refused) while connecting to upstream, client: 198.51.100.7, server: shop.example.org",
        "nginx-upstream-refused",
    ),
    (
        "2026/11/01 10:00:00 [error] 31#31: *9 no live upstreams while connecting to upstream, client: 198.51.100.7",
        "nginx-no-live-upstreams",
    ),
    (
        '2026/11/01 10:00:00 [error] 31#31: *10 limiting requests, excess: 5.120 by zone "login", client: 203.0.113.9, server: shop.example.org',
        "nginx-rate-limited",
    ),
    (
        '2026/11/01 10:00:00 [error] 31#31: *11 access forbidden by rule, client: 203.0.113.9, server: shop.example.org, request: "GET /.git/config HTTP/1.1"',
        "web-access-forbidden",
    ),
    (
        "2026/11/01 10:00:00 [crit] 31#31: *12 SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 203.0.113.9, server: 0.0.0.0:443",
        "tls-handshake-failure",
    ),
    (
        "[Sun Nov 01 10:00:00.123456 2026] [authz_core:error] [pid 4242:tid 4250] [client 203.0.113.9:52211] AH01630: client denied by server configuration: /var/www/private",
        "web-access-forbidden",
    ),
    (
        '203.0.113.9 - - [01/Nov/2026:10:00:00 +0000] "POST /api/v1/login HTTP/1.1" 401 31 "-" "python-requests/2.32.3"',
        "http-auth-denied",
    ),
    (
        'E1101 10:00:00.123456    1234 pod_workers.go:1298] "Error syncing pod, skipping" err="failed to \\"StartContainer\\" for \\"orders\\" with CrashLoopBackOff: \\"back-off 5m0s restarting failed container=orders pod=orders-7d9f_shop(0b1c)\\"" pod="shop/orders-7d9f"',
        "container-crash",
    ),
    (
        'I1101 10:00:00.123456       1 event.go:389] "Event occurred" object="shop/orders" fieldPath="" kind="Deployment" apiVersion="apps/v1" type="Normal" reason="ScalingReplicaSet" message="Scaled up replica set orders-7d9f to 3"',
        "k8s-scaled",
    ),
    (
        "2026-11-01T10:00:00.123456789Z stderr F panic: runtime error: index out of range [3] with length 3",
        "runtime-panic",
    ),
    (
        '2026-11-01T10:00:00.123456789Z stdout F {"level":"error","ts":1793527200.1,"caller":"client/pay.go:88","msg":"charge failed: dial tcp 10.0.0.9:443: i/o timeout"}',
        "network-connection-error",
    ),
    (
        "11-01 10:00:00.123  1234  1260 E ActivityManager: ANR in com.example.shop (com.example.shop/.CheckoutActivity)",
        "android-anr",
    ),
    (
        "11-01 10:00:00.123  1234  1260 E AndroidRuntime: FATAL EXCEPTION: main",
        "android-fatal-exception",
    ),
    (
        "11-01 10:00:00.123  1234  1260 I ActivityManager: Process com.example.shop (pid 4242) has died: fg TOP",
        "android-process-died",
    ),
    (
        "11-01 10:00:00.123   612   612 I lowmemorykiller: Kill 'com.example.game' (4343), uid 10123, oom_score_adj 900 to free 51200kB rss, 10240kB swap; reason: low watermark is breached",
        "android-low-memory-killer",
    ),
    (
        "2026-11-01 10:00:00,123 WARN [main] o.a.k.c.NetworkClient - [Consumer clientId=c-1, groupId=g] Connection to node 1 could not be established",
        "kafka-connection-failed",
    ),
    (
        "[2026-11-01 10:00:00,123] INFO [Partition orders-3 broker=1] Shrinking ISR from 1,2,3 to 1,3. Leader: (highWatermark: 1200, endOffset: 1300). Out of sync replicas: (brokerId: 2, endOffset: 1200). (kafka.cluster.Partition)",
        "kafka-isr-shrink",
    ),
    (
        "[2026-11-01 10:00:00,123] INFO [GroupCoordinator 1]: Preparing to rebalance group billing in state PreparingRebalance with old generation 4 (__consumer_offsets-12) (reason: Adding new member) (kafka.coordinator.group.GroupCoordinator)",
        "kafka-client-state",
    ),
    (
        "2026-11-01 10:00:00,747 [myid:1] - INFO  [SessionTracker:ZooKeeperServer@628] - Expiring session 0x100000a1b2c0001, timeout of 40000ms exceeded",
        "zookeeper-session-expired",
    ),
    (
        "2026-11-01 10:00:00.123+00:00 ERROR 4242 --- [orders] [nio-8080-exec-3] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] threw exception: java.lang.OutOfMemoryError: Java heap space",
        "jvm-out-of-memory",
    ),
    (
        "2026-11-01 10:00:00,123 - shop.worker - ERROR - Traceback (most recent call last):",
        "python-exception",
    ),
    (
        "WARNING:airflow.task:Marking task as UP_FOR_RETRY. dag_id=etl_orders, task_id=extract, run_id=manual__2026-11-01T09:00:00+00:00",
        "batch-job-retry",
    ),
    ("[2026-11-01 10:00:00 +0000] [130] [CRITICAL] WORKER TIMEOUT (pid:131)", "app-worker-timeout"),
    (
        "2026-11-01 10:00:00, Error                 CBS    Failed to resolve package [HRESULT = 0x800f0805 - CBS_E_INVALID_PACKAGE]",
        "windows-cbs-error",
    ),
    (
        "2026-11-01 10:00:00, Info                  CBS    Exec: Processing complete.  Session: 31099999_123456789 [HRESULT = 0x00000000 - S_OK]",
        None,
    ),
    (
        'time="2026-11-01T10:00:00Z" level=error msg="Handler for POST /v1.45/containers/3f2a/start returned error: OCI runtime create failed: runc create failed: unable to start container process"',
        "container-start-failed",
    ),
    (
        "<30>1 2026-11-01T10:00:00.123Z web-1 systemd 1 - - Failed to start nginx.service - A high performance web server and a reverse proxy server.",
        "systemd-unit-failed",
    ),
    (
        "<30>1 2026-11-01T10:00:00.123Z web-1 systemd 1 - - Started nginx.service - A high performance web server and a reverse proxy server.",
        "systemd-unit-started",
    ),
    (
        "2026-11-01T10:00:00.123456+00:00 db-1 systemd[1]: postgresql.service: Deactivated successfully.",
        "systemd-unit-stopped",
    ),
    (
        "Nov  1 10:00:00 bastion-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
        "sudo-command",
    ),
    (
        "Nov  1 10:00:00 bastion-1 sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash",
        "sudo-denied",
    ),
    ("Nov  1 10:00:00 bastion-1 su[4242]: (to root) alice on pts/0", "su-success"),
    ("Nov  1 10:00:00 web-1 CRON[4242]: (root) CMD (/usr/local/bin/backup.sh)", "cron-job"),
    (
        "Nov  1 10:00:00 web-1 CRON[4242]: pam_unix(cron:session): session closed for user root",
        "cron-job",
    ),
    (
        "Nov  1 10:00:00 web-1 kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=aa SRC=203.0.113.9 DST=10.0.0.2 LEN=44 PROTO=TCP SPT=4000 DPT=22",
        "firewall-block",
    ),
    (
        "Nov  1 10:00:00 web-1 kernel: [12345.678901] Out of memory: Killed process 4242 (java) total-vm:8000kB, anon-rss:7000kB",
        "kernel-oom",
    ),
    (
        "2026-11-01 10:00:00,123 fail2ban.actions        [812]: NOTICE  [sshd] Ban 198.51.100.23",
        "firewall-block",
    ),
    (
        '{"t":{"$date":"2026-11-01T10:00:00.000+00:00"},"s":"I","c":"COMMAND","id":51803,"ctx":"conn42","msg":"Slow query","attr":{"durationMillis":1834}}',
        "slow-query",
    ),
    (
        '{"t":{"$date":"2026-11-01T10:00:00.000+00:00"},"s":"I","c":"NETWORK","id":23016,"ctx":"listener","msg":"Waiting for connections","attr":{"port":27017,"ssl":"off"}}',
        "database-ready",
    ),
    (
        '{"t":{"$date":"2026-11-01T10:00:00.000+00:00"},"s":"I","c":"ACCESS","id":20249,"ctx":"conn7","msg":"Authentication failed","attr":{"mechanism":"SCRAM-SHA-256","user":"app","db":"admin"}}',
        "auth-failure",
    ),
    (
        '{"level":"error","time":"2026-11-01T10:00:00Z","message":"x509: certificate has expired or is not yet valid"}',
        "tls-certificate",
    ),
    (
        '{"asctime":"2026-11-01 10:00:00","levelname":"INFO","name":"airflow.task","message":"Marking task as SUCCESS. dag_id=etl, task_id=load"}',
        "batch-job-succeeded",
    ),
]

SYSLOG_3164 = "Nov  1 10:00:00 host-1 {prog}[4242]: {body}"
SYSLOG_5424 = "<86>1 2026-11-01T10:00:00.123Z host-1 {prog} 4242 - - {body}"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def _winner(rules: RuleSet, line: str) -> str | None:
    index = rules.first_match(line)
    return rules.rules[index].name if index >= 0 else None


def _mismatches(got: Sequence[tuple[str, str | None, str | None]]) -> str:
    """Each (line, rule wanted, rule that matched first) that differs, one a line."""
    return "\n".join(f"{want} wanted, {won} matched first: {line!r}" for line, want, won in got)


def test_each_body_is_first_matched_by_its_rule(rules: RuleSet) -> None:
    got = [(body, name, _winner(rules, body)) for _prog, body, name in CASES]
    wrong = [g for g in got if g[1] != g[2]]
    assert not wrong, f"{len(wrong)} of {len(CASES)} bodies:\n{_mismatches(wrong)}"


@pytest.mark.parametrize("header", [SYSLOG_3164, SYSLOG_5424], ids=["rfc3164", "rfc5424"])
def test_the_same_lines_with_a_syslog_header_still_match(rules: RuleSet, header: str) -> None:
    lines = [(header.format(prog=p.replace(" ", "-"), body=b), n) for p, b, n in CASES]
    got = [(line, name, _winner(rules, line)) for line, name in lines]
    wrong = [g for g in got if g[1] != g[2]]
    assert not wrong, f"{len(wrong)} of {len(CASES)} lines:\n{_mismatches(wrong)}"


def test_application_lines_are_left_unclaimed(rules: RuleSet) -> None:
    claimed = [(line, None, _winner(rules, line)) for line in UNCLAIMED]
    wrong = [g for g in claimed if g[2] is not None]
    assert not wrong, f"{len(wrong)} of {len(UNCLAIMED)} lines:\n{_mismatches(wrong)}"


@pytest.fixture(scope="module")
def formats() -> LogFormats:
    return builtin_formats()


def test_the_parsed_body_of_each_whole_line_is_matched(rules: RuleSet, formats: LogFormats) -> None:
    got = []
    for line, name in FULL_LINES:
        record = decode(line.encode())
        assert isinstance(record, LogRecord), line
        body = formats.parse_record(record, 2026).body
        got.append((body, name, _winner(rules, body)))
    wrong = [g for g in got if g[1] != g[2]]
    assert not wrong, f"{len(wrong)} of {len(FULL_LINES)} lines:\n{_mismatches(wrong)}"
