"""Settings: one dataclass, filled from defaults, ``MMSTREAM_*`` environment
variables and command-line flags (in that order of precedence, lowest first)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from mmstream.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent


class Secret(str):
    """A setting's secret value: used as the string it is, never printed (``repr`` is
    ``'***'``) and never pickled or deep-copied (both give an empty secret)."""

    def __repr__(self) -> str:
        return "'***'" if self else "''"

    def __reduce__(self) -> tuple:
        return (Secret, ("",))


def is_secret(name: str) -> bool:
    """Settings whose values are secrets: passwords, tokens, keys and DSNs with credentials."""
    return name.endswith(("password", "_token", "_secret", "_api_key")) or name == "web_token"


#: the groups of settings, by field-name prefix (first match wins; anything else is "worker")
GROUPS: dict[str, tuple[str, ...]] = {
    "connection": ("broker", "app_id", "topic_prefix", "partitions", "replication_factor", "mentions_retention",
                   "processing_guarantee", "security_", "sasl_", "ssl_", "fetch_", "producer_"),
    "limits": ("max_", "plugin_timeout"),
    "plugins": ("plugin_", "plugins_", "onnx_"),
    "model": ("model_", "brands_file", "category_threshold"),
    "analytics": ("window_", "topic_", "alert_", "analytics_", "idle_partition", "duplicate_", "campaign_"),
}


@dataclass
class Settings:
    # Kafka
    broker: str = "kafka://127.0.0.1:9092"
    app_id: str = "mmstream"
    topic_prefix: str = "mmstream."
    partitions: int = 4
    broker_session_timeout: float = 6.0
    # replicas of the topics mmstream creates (0: the broker's default.replication.factor)
    replication_factor: int = 0
    # seconds the mentions log is kept (0: forever; the analytics engine replays it on takeover)
    mentions_retention: float = 0.0
    # at_least_once, or exactly_once: each micro-batch's outcomes and its input offsets in one Kafka
    # transaction (needs a broker with transactions: Apache Kafka, not the embedded tansu)
    processing_guarantee: str = "at_least_once"
    # security for a real Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    # worker
    batch_size: int = 32  # amortises the per-batch costs (a mention round trip, a thread, the fused model)
    # seconds a micro-batch waits for more posts; what a post waits at moderate load (at saturation
    # batches fill at once). 0.02 against 0.05 (mmstream bench): p50/p99 at half load 49-51/85-96 ms
    # against 77/120-122 (text), 56-63/193-203 against 108-114/230-243 (20 % images), same throughput
    batch_within: float = 0.02
    # the lanes this worker runs (docs/architecture.md, "Lanes"): "all" (text and media), "text" (posts in
    # micro-batches; a post with a media-lane modality is routed to <prefix>media; no media plugin loaded),
    # "media" (reads <prefix>media, a clip at a time per partition), or "inline" (no routing: every post in its
    # partition's micro-batch, as before lanes; for comparison)
    lanes: str = "all"
    # posts the media lane works on at once (each from a different partition of <prefix>media)
    media_concurrency: int = 1
    # plugins whose modalities go to the media lane besides those declaring Extractor.lane = "media" (audio,
    # video), comma-separated names: "image" keeps the image plugin out of text-role workers too
    media_plugins: str = ""
    # seconds the broker may hold the worker's fetch when no record is waiting (Faust's own: 1.5)
    fetch_max_wait: float = 0.05
    # seconds the producer gathers a partition's records into one request (Faust's own: 0, one request per
    # record while the previous is in flight); a batch's outcomes then travel together
    producer_linger: float = 0.005
    producer_max_batch_bytes: int = 524_288  # a batch is one Kafka record batch: stay under message.max.bytes
    # seconds a stopping worker (SIGTERM, SIGINT) may take; past them it exits anyway (code 70), committing
    # nothing more: what it had not committed is processed again after a restart (at-least-once); 0: no bound
    shutdown_timeout: float = 30.0
    web_port: int = 6066
    # the address the web server (dashboard, JSON API, /metrics, probes) binds to; anything but loopback
    # needs web_token (or web_insecure, on purpose): the worker refuses to start otherwise
    web_host: str = "127.0.0.1"
    log_format: str = "text"  # "json": one JSON object per line (mmstream/observability/logs.py)
    # the worker's log level (`mmstream worker --loglevel` wins)
    log_level: str = "warning"
    # this worker's name in logs and metrics (empty: <hostname>-<pid>, a pod's name in Kubernetes)
    worker_id: str = ""
    # the dashboard and the JSON API need this token when set (bearer or the cookie /?token= sets); /health never
    web_token: str = ""
    # serve a non-loopback web_host without a token anyway (MMSTREAM_WEB_INSECURE=1): for a network that is
    # already closed to everyone else (a sidecar proxy that authenticates, a private test namespace)
    web_insecure: bool = False
    # small thumbnails of a post's first image and first keyframe in its result (the image plugin's report) and in
    # the dashboard's live feed; MMSTREAM_FEED_THUMBNAILS=0: none made, none shown (privacy)
    feed_thumbnails: bool = True
    data_dir: str = ".mmstream-data"
    # the datasets `mmstream train`, `eval` and `bench` read (MMSTREAM_DATA; empty: ../shared/data beside the
    # checkout or the working directory)
    data: str = ""
    # `mmstream bench`'s torch peer: a fine-tuned SentenceEncoder state dict (`--peer-weights` wins)
    bench_peer_weights: str = ""
    # limits on one post
    max_payload_bytes: int = 8_000_000
    max_text_chars: int = 10_000
    # (the image plugin's limits are its own settings: MMSTREAM_PLUGIN_IMAGE_MAX_IMAGES ..., see MOVED)
    plugin_timeout: float = 30.0
    # texts whose extraction is kept for a repeat of the exact text (mmstream/pipeline/contentcache.py; 0: off)
    content_cache: int = 10_000
    # media by reference: the prefixes a post's {"ref": ...} entries may name, comma-separated (absolute
    # directories, file:// URLs, http(s)://host[:port]/prefix/; empty: none, refs are dead-lettered)
    media_stores: str = ""
    # plugins: a plugin that fails to load (or implements an unknown hook) stops startup ("fatal") or is
    # reported and left out ("skip")
    plugin_errors: str = "fatal"
    # plugins not to load at all, comma-separated names as `mmstream plugins` lists them (e.g. "image" for a
    # text-only stream: ~125 MB less per worker; a post with an image is then dead-lettered, not half-read)
    plugins_disabled: str = ""
    # intra-op threads of every ONNX session (0: half the CPUs this process may use, 1 to 4)
    onnx_threads: int = 0
    # per-plugin settings (Settings.plugin(name)): MMSTREAM_PLUGIN_<NAME>_<KEY> variables as loaded (None: read
    # the environment when asked), then options given in code, {plugin: {key: value}}; never printed
    plugin_env: dict | None = field(default=None, repr=False, compare=False)
    plugin_options: dict = field(default_factory=dict, repr=False)
    # model
    model_dir: str = str(PACKAGE_DIR / "models" / "fused")
    brands_file: str = ""
    # event time: a created_at more than max_future s after the record's Kafka timestamp (the clock in
    # `score`) is dead-lettered (future_created_at); more than max_age s before it (0: no bound) too
    max_future: float = 3600.0
    max_age: float = 0.0
    # seconds without a mention from an input partition before it stops holding the watermark back
    idle_partition: float = 30.0
    # brand analytics (mmstream/analytics): event-time windows, in seconds
    window_tumbling: float = 60.0
    window_hopping: float = 3600.0
    window_hop: float = 300.0
    window_grace: float = 60.0
    window_top_topics: int = 5
    # online topic mining: cosine thresholds on mean-centred text embeddings, chosen on TweetTopicXL
    # train + validation (benchmarks/topic_tuning.py; the test splits and the complaints corpus only report)
    topic_assign: float = 0.15
    topic_birth: float = 0.25
    topic_birth_min: int = 3
    topic_merge: float = 0.7
    topic_max_idle: float = 7 * 86400.0
    topic_max: int = 500
    topic_warmup: int = 50
    category_threshold: float = 0.0  # 0: the model's own threshold, chosen on validation data
    # spike alerts: the last alert_recent seconds against the alert_baseline seconds before
    alert_recent: float = 3600.0
    alert_baseline: float = 43200.0
    alert_min_posts: int = 20
    alert_ratio: float = 3.0
    alert_z: float = 4.0
    alert_negative_delta: float = 0.25
    alert_complaint_delta: float = 0.25  # complaint share up by this much: a complaint_share alert
    alert_min_history: float = 0.25
    alert_cooldown: float = 3600.0
    # analytics bookkeeping
    # partitions of <prefix>mentions: one analytics engine each (brands spread over them), owned by the
    # workers the consumer group gives them (mmstream/analytics/engine/routing.py)
    analytics_partitions: int = 4
    analytics_dedupe: int = 100_000
    analytics_keep: float = 7 * 86400.0
    analytics_startup_wait: float = 15.0
    # engine checkpoints in data_dir every N mentions (0: none; a restart then replays the whole log)
    analytics_checkpoint_every: int = 50_000
    analytics_checkpoint_keep: int = 2
    # duplicates and campaigns (mmstream/analytics/engine/duplicates.py, campaigns.py; thresholds measured by
    # benchmarks/duplicates.py): near duplicates at this estimated Jaccard of character 4-grams or more
    duplicate_threshold: float = 0.5
    duplicate_min_chars: int = 16  # shorter normalised texts are never duplicates
    duplicate_ttl: float = 86400.0  # a post is compared against for this long (event time)
    duplicate_max_entries: int = 20_000  # and at most this many posts per partition of <prefix>posts (~2 KB each)
    duplicate_checkpoint_every: int = 10_000  # worker: a partition's state written every N posts (0: never)
    # "partition": one state per partition of <prefix>posts (deterministic; copies on two partitions are not linked);
    # "worker": one state for every partition a worker holds (copies linked across them; answers then depend on
    # which worker holds what and on how batches of different partitions interleave); "cluster": one state per
    # worker fed by every worker's posts through <prefix>copies (copies linked and campaigns counted across
    # partitions and workers, up to the index's propagation delay; mmstream.analytics.pipeline.copyindex)
    duplicate_scope: str = "partition"
    # a campaign: a cluster of near duplicates by this many distinct accounts within campaign_window seconds
    campaign_min_authors: int = 8
    campaign_window: float = 1800.0
    campaign_max_clusters: int = 20_000
    # brand windows count duplicates and campaign posts; "campaigns" or "duplicates" (campaign posts included) also
    # leaves those out of posts, share of voice, sentiment and complaint figures (and their alerts); "none": counted
    campaign_exclude: str = "none"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if is_secret(f.name) and isinstance(value, str) and not isinstance(value, Secret):
                object.__setattr__(self, f.name, Secret(value))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled settings hold no secret: secrets empty, no plugin settings (they may hold keys)."""
        state = dict(self.__dict__)
        state.update({k: Secret("") for k in state if is_secret(k)}, plugin_env={}, plugin_options={})
        return state

    def group(self, name: str) -> "Mapping[str, Any]":
        """The settings of one group (``connection``, ``limits``, ``plugins``, ``model``,
        ``analytics``, ``worker``) by name, read-only; secrets stay :class:`Secret`."""
        if name not in GROUPS and name != "worker":
            raise ConfigError(f"no settings group {name!r}; the groups are {', '.join([*GROUPS, 'worker'])}")
        return MappingProxyType({f.name: getattr(self, f.name) for f in fields(self)
                                 if group_of(f.name) == name and f.name not in _NOT_FROM_ENV})

    @property
    def connection(self) -> "Mapping[str, Any]":
        return self.group("connection")

    @property
    def limits(self) -> "Mapping[str, Any]":
        return self.group("limits")

    @property
    def analytics(self) -> "Mapping[str, Any]":
        return self.group("analytics")

    def describe(self) -> dict[str, dict[str, Any]]:
        """Every setting by group, secrets shown as ``***`` (set) or ``""``: safe to print or log."""
        return {g: {k: ("***" if v else "") if is_secret(k) else v for k, v in self.group(g).items()}
                for g in [*GROUPS, "worker"]}

    def plugin(self, name: str) -> "Mapping[str, str]":
        """The settings of plugin ``name``: every ``MMSTREAM_PLUGIN_<NAME>_<KEY>``
        environment variable (read when the settings were loaded) as ``{"<key>": value}``,
        keys in lower case, then ``Settings.load(plugin_options={name: {...}})``."""
        prefix = f"MMSTREAM_PLUGIN_{name.upper()}_"
        env = self.plugin_env
        if env is None:  # settings made without load(): the environment now, old names of MOVED included
            env = {k: v for k, v in os.environ.items() if k.startswith(prefix)}
            env.update(moved_environment(env))
        found = {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix)}
        found.update({str(k).lower(): v for k, v in (self.plugin_options.get(name) or {}).items()})
        return MappingProxyType(found)

    def topic(self, name: str) -> str:
        """Full topic name for ``posts``, ``enriched``, ``dead-letter`` ..."""
        return f"{self.topic_prefix}{name}"

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """Defaults, then ``MMSTREAM_<FIELD>`` environment variables, then
        ``overrides`` whose value is not None."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            env = os.environ.get(f"MMSTREAM_{f.name.upper()}")
            if env is not None and f.name not in _NOT_FROM_ENV:
                values[f.name] = _convert(f, env)
        own = {f"MMSTREAM_{f.name.upper()}" for f in fields(cls)}
        values["plugin_env"] = {k: v for k, v in os.environ.items() if k.startswith("MMSTREAM_PLUGIN_") and k not in own}
        values["plugin_env"].update(moved_environment(values["plugin_env"]))
        for key, value in overrides.items():
            if value is None:
                continue
            if key in MOVED:
                plugin, option = MOVED[key]
                raise ConfigError(f"{key!r} is the {plugin} plugin's setting now: Settings.load(plugin_options="
                                  f"{{{plugin!r}: {{{option!r}: {value!r}}}}}) or {_plugin_env(plugin, option)}")
            if key not in {f.name for f in fields(cls)}:
                raise ConfigError(f"unknown setting {key!r}")
            values[key] = value
        settings = cls(**values)
        settings.broker = normalise_broker_url(settings.broker)
        return settings

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


_NOT_FROM_ENV = ("plugin_env", "plugin_options")

#: settings that became a plugin's own (old field -> (plugin, key)): the old ``MMSTREAM_<FIELD>`` variable
#: still works, with a warning naming the new one, until it is removed; in code the old name is an error
MOVED: dict[str, tuple[str, str]] = {
    "max_images": ("image", "max_images"),
    "max_image_bytes": ("image", "max_bytes"),
    "max_image_pixels": ("image", "max_pixels"),
    "max_image_frames": ("image", "max_frames"),
}


def _plugin_env(plugin: str, key: str) -> str:
    return f"MMSTREAM_PLUGIN_{plugin.upper()}_{key.upper()}"


def moved_environment(plugin_env: Mapping[str, str]) -> dict[str, str]:
    """The plugin variables the old names of :data:`MOVED` stand for (``MMSTREAM_MAX_IMAGES=2`` ->
    ``MMSTREAM_PLUGIN_IMAGE_MAX_IMAGES=2``), each with a ``FutureWarning`` naming the new variable
    (shown by default); a new variable that is set wins over its old name."""
    import warnings

    found = {}
    for name, (plugin, key) in MOVED.items():
        old, new = f"MMSTREAM_{name.upper()}", _plugin_env(plugin, key)
        if old not in os.environ:
            continue
        if new in plugin_env:
            warnings.warn(f"{old} is deprecated and ignored: {new} is set; remove {old}", FutureWarning, stacklevel=3)
            continue
        warnings.warn(f"{old} is deprecated: set {new} instead (the {plugin} plugin's own setting)", FutureWarning,
                      stacklevel=3)
        found[new] = os.environ[old]
    return found


def group_of(name: str) -> str:
    """The group a setting belongs to (:data:`GROUPS`; ``worker`` for the rest)."""
    for group, prefixes in GROUPS.items():
        if name.startswith(prefixes):
            return group
    return "worker"


def _convert(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool":
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"MMSTREAM_{f.name.upper()}={raw!r} is not a yes/no value; set 1 or 0")
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"MMSTREAM_{f.name.upper()}={raw!r} is not a {kind}; set a number") from None
    return raw


def normalise_broker_url(url: str) -> str:
    """Accept ``host:port``, ``kafka://host:port`` or a comma-separated list."""
    url = url.strip()
    if not url:
        raise ConfigError("the broker URL is empty; pass --broker kafka://HOST:PORT")
    if "://" not in url:
        url = "kafka://" + url
    return url


def bootstrap_servers(url: str) -> list[str]:
    """``kafka://a:1,b:2`` -> ``["a:1", "b:2"]`` for kafka-python / aiokafka."""
    rest = normalise_broker_url(url).split("://", 1)[1]
    return [part.strip().split("://")[-1] for part in rest.split(",") if part.strip()]
