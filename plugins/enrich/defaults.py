"""Every default, enum and limit of the project, defined once.

The DAGs' Params, the CLI's options, the settings dataclasses and the tests all read their
values here, so changing one default changes it everywhere. This module imports nothing of
the project (or of Airflow, scikit-learn or Kafka): DAG files parse without heavy imports.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
RULES_FILE = PROJECT_DIR / "include" / "regex_rules.yaml"
TAXONOMY_FILE = PROJECT_DIR / "include" / "taxonomy.yaml"
FORMATS_FILE = PROJECT_DIR / "include" / "log_formats.yaml"
# local state (Kafka data, MLflow store, Airflow home, model cache); ENRICH_VAR_DIR moves it
VAR_DIR = PROJECT_DIR / "var"

# ---- routing (enrich_batch) ---------------------------------------------------------------
# the model decides at or above this confidence
THRESHOLD = 0.75
# model_first: model when confident, else rules, else review; rules_first: a matching rule
# always decides, the model only labels lines no rule matches
MODEL_FIRST, RULES_FIRST = "model_first", "rules_first"
POLICIES = (MODEL_FIRST, RULES_FIRST)
POLICY = MODEL_FIRST
# the query strategies (enrich.learn.strategies.STRATEGIES has one function for each name)
STRATEGIES = ("diverse", "ranked_batch", "uncertainty", "margin", "entropy", "random")
STRATEGY = "diverse"
# review queries per partition and run
REVIEW_K = 10
# a larger Kafka value is a dead letter (value_too_large)
MAX_VALUE_BYTES = 1_048_576
# fields of a JSON record that hold the log text, tried in this order (a dotted name is also
# looked up as a nested path): ECS/GELF/OpenTelemetry/journald/logrus/zap/pino/bunyan/Docker
TEXT_FIELDS = (
    "message",
    "msg",
    "log",
    "MESSAGE",
    "body",
    "Body",
    "short_message",
    "@message",
    "event.original",
)
RANDOM_STATE = 0

# ---- log_enrichment -----------------------------------------------------------------------
ENRICH_SCHEDULE = "*/5 * * * *"
MAX_BATCH_SIZE = 50_000  # messages per partition and transaction, at most
# a task works through micro-batches until its partition is caught up or this is spent; a
# run stopped by it with input still waiting starts the next run at once (ENRICH_TIME_BUDGET_S)
TIME_BUDGET_S = 240
# beyond the budget: the batch under way (its transaction times out at 120 s), start-up
TASK_TIMEOUT_MARGIN_S = 300
# a run's transaction stays open while its batch is read and enriched: kept well inside the
# transaction timeout (kafka.TXN_TIMEOUT_S, 120 s) at ~100,000 lines/s
MAX_BATCH_SIZE_LIMIT = 1_000_000
CONSUMER_GROUP = "log-enricher"
# where a consumer group with no committed offset on a partition starts: "committed" refuses
# (a new group never re-sends the retained history by surprise), "earliest" or "latest" say so
COMMITTED, EARLIEST, LATEST = "committed", "earliest", "latest"
START_FROM = (COMMITTED, EARLIEST, LATEST)

# ---- model_training -----------------------------------------------------------------------
MIN_NEW_LABELS = 50  # skip a training run unless this many labels arrived since the last one
MIN_LABELS = 20  # fewest training labels for a model
C = 20.0  # logistic regression: inverse regularisation strength
MAX_LABELS = 200_000  # train on at most this many labelled lines
BOOTSTRAP_SAMPLE = 5_000  # recent messages per partition labelled by rules with no champion
EVAL_BUCKETS = 5  # one fingerprint in five is held out for evaluation
# people's labels in the evaluation slice from which a champion is chosen on them (agreement
# with people) rather than on the rule labels (imitation of the rules)
MIN_PEOPLE_EVAL = 30
RETRY_DELAY_SECONDS = 60.0

# ---- labelling ----------------------------------------------------------------------------
LABELLING_SCHEDULE = "@hourly"
QUESTIONS_K = 10  # questions per labelling run
QUESTIONS_K_MAX = 100
QUEUE_WINDOW = 100_000  # newest review items read per partition
# enrichment does not queue again a fingerprint among the newest review items of each
# partition (REVIEW_K a partition a run: about 4 days of the default schedule)
REVIEW_LOOKBACK = 10_000
ANSWER_TIMEOUT_HOURS = 24.0

# ---- backfill -----------------------------------------------------------------------------
BACKFILL_MODEL = "champion"  # an alias, a version number, or "none" (rules only)
# how long after its interval a message may still arrive (producer clock skew, late
# delivery): a backfill reads this much further and keeps what is stamped inside the interval
BACKFILL_LATENESS_S = 3600
BACKFILL_SUFFIX = ".backfill"  # default target: the output topic's name and this

# ---- MLflow registry ----------------------------------------------------------------------
CHAMPION = "champion"
CHALLENGER = "challenger"
EXPERIMENT = "log-enricher"
REGISTERED_MODEL = "log-enricher"

# ---- Kafka --------------------------------------------------------------------------------
KAFKA_CONN_ID = "kafka_default"
TOPIC_RAW = "logs.raw"
TOPIC_ENRICHED = "logs.enriched"
TOPIC_LABELS = "logs.labels"
TOPIC_REVIEW = "logs.review"
TOPIC_DLQ = "logs.dlq"
# the template miner's state (compacted, keyed by template id); empty: the raw topic's name
# with ``.raw`` replaced by ``.templates`` (``logs.templates``)
TOPIC_TEMPLATES = ""
TOPIC_PARTITIONS = 3
TOPIC_REPLICATION = 1

# ---- CLI and the sample generator ----------------------------------------------------------
LABEL_BATCH_SIZE = 10_000  # `enrich label`: lines per batch
SAMPLE_COUNT = 10_000  # `enrich sample`: how many lines
SAMPLE_SEED = 7
SAMPLE_JSON_SHARE = 0.3  # share of JSON records among the sample lines
EVALUATE_OUT = "out/evaluate"  # `enrich evaluate`: output folder
SIMULATION_BATCH_SIZE = 10  # `enrich evaluate`: labels per round
SIMULATION_MAX_LABELS = 200  # `enrich evaluate`: label budget
EVALUATE_SEEDS = 5  # `enrich evaluate`: runs per strategy, seeds --seed, --seed + 1, ...
WATCH_INTERVAL_S = 2.0  # seconds between the event-driven watcher's looks at the group's lag
