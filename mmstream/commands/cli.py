"""The ``mmstream`` command line. Every sub-command has ``--help``."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from mmstream.commands.parsing import Parser, broker_url, check_broker_url
from mmstream.errors import ConfigError, MMStreamError
from mmstream.settings import Settings


def _kafka_options(p: argparse.ArgumentParser, broker_required: bool = False) -> None:
    p.add_argument("--broker", required=broker_required, default=None, type=broker_url,
                   help="Kafka bootstrap servers: kafka://HOST:PORT, comma-separated for several, e.g. "
                        "kafka://127.0.0.1:9092 (env MMSTREAM_BROKER)")
    p.add_argument("--topic-prefix", default=None, help="prefix of every topic name (default 'mmstream.')")


def _settings(args: argparse.Namespace, **extra) -> Settings:
    settings = Settings.load(
        broker=getattr(args, "broker", None),
        topic_prefix=getattr(args, "topic_prefix", None),
        brands_file=getattr(args, "brands", None),
        **extra,
    )
    if "broker" in vars(args) and args.broker is None:  # MMSTREAM_BROKER (or the default), checked as --broker is
        check_broker_url(settings.broker, "MMSTREAM_BROKER")
    return settings


def cmd_broker(args: argparse.Namespace) -> int:
    from mmstream.kafka.broker import run_broker_foreground

    return run_broker_foreground(args.port)


def cmd_worker(args: argparse.Namespace) -> int:
    from mmstream.worker.run import run_worker

    settings = _settings(args, web_port=args.web_port, batch_size=args.batch_size, app_id=args.app_id,
                         partitions=args.partitions, lanes=args.lanes)
    return run_worker(settings, loglevel=args.loglevel or settings.log_level)


def cmd_produce(args: argparse.Namespace) -> int:
    from mmstream.commands.produce import produce_command

    return produce_command(_settings(args), args.file, args.rate)


def cmd_score(args: argparse.Namespace) -> int:
    from mmstream.commands.score import score_file

    settings = _settings(args, batch_size=args.batch_size)
    return score_file(settings, args.input, args.output)


def cmd_demo(args: argparse.Namespace) -> int:
    from mmstream.commands.demo import run_demo
    from mmstream.commands.stopping import stop_on_signals

    with stop_on_signals():  # kill (SIGTERM) and a closed terminal (SIGHUP) clean up as Ctrl-C does
        if args.serve:
            from mmstream.commands.serve_demo import serve_demo

            return serve_demo(rate=args.rate or 1.0, port=args.port, posts_file=args.posts, duration=args.duration)
        return run_demo(rate=args.rate or 20.0, timeout=args.timeout, posts_file=args.posts)


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mmstream.training.train import TrainConfig, finetune_and_export, train

    if args.finetune_epochs:
        finetune_and_export(Path(args.cache) / "finetune", epochs=args.finetune_epochs, seed=args.seed)
    config = train(TrainConfig(out_dir=Path(args.out), seed=args.seed, epochs=args.epochs, meme_images=args.meme_images,
                               limit=args.limit, complaint_negatives=args.complaint_negatives,
                               sentiment_only=args.sentiment_only,
                               multilingual_from=Path(args.multilingual_from) if args.multilingual_from else None,
                               media_texts=args.media_texts, complaint_extra=args.complaint_extra,
                               complaint_praise=args.complaint_praise, complaint_news=args.complaint_news,
                               start_from=Path(args.start_from) if args.start_from else None))
    print(json.dumps(config["metrics"], indent=2))
    print(f"wrote {args.out}/model.onnx and config.json", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from mmstream.commands.evaluate import evaluate, format_table

    media = args.media or (100 if args.media_only else 0)
    report = evaluate(_settings(args), limit=args.limit, memes=args.memes, media=media, media_only=args.media_only)
    print(format_table(report))
    text = json.dumps(report, indent=2)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        print(text)
    if args.update_card:
        from pathlib import Path

        from mmstream.training.card import record_eval

        settings = _settings(args)
        card = Path(settings.model_dir) / "MODEL_CARD.md"
        if "sentiment_test" in report:  # the media figures get a section of their own (without the posts)
            record_eval(card, format_table(report), {k: v for k, v in report.items() if k != "media"})
        if "media" in report:
            from mmstream.evaluation.media import record_card

            record_card(card, report["media"])
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from mmstream.bench.run import run_from_args

    return run_from_args(args)


def cmd_plugins(args: argparse.Namespace) -> int:
    if args.action == "new":
        from mmstream.commands.plugin_kit import new_plugin, next_steps

        root = new_plugin(args.name, args.dir)
        print(f"wrote {root}/: pyproject.toml, {args.name}/__init__.py, tests/test_{args.name}.py, README.md\n"
              f"{next_steps(root)}", file=sys.stderr)
        return 0
    from mmstream.plugin.manager import get_plugin_manager, plugin_infos

    settings = Settings.load(plugin_errors="skip")  # list the broken plugins too, with their error
    pm = get_plugin_manager(settings)
    infos = plugin_infos(pm, settings)
    if args.json:
        from dataclasses import asdict

        print(json.dumps([asdict(info) for info in infos], indent=2))
        return 0
    for info in infos:
        if info.error:
            print(f"{info.name:<12} FAILED from {info.source}: {info.error}")
            continue
        if info.disabled:
            print(f"{info.name:<12} disabled (MMSTREAM_PLUGINS_DISABLED): not loaded")
            continue
        print(f"{info.name:<12} modalities={','.join(info.modalities) or '-':<20} "
              f"hooks={','.join(info.hooks)}  from {info.source}")
    return 1 if any(info.error for info in infos) else 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from mmstream import schemas

    settings = _settings(args)
    if args.asyncapi:
        from mmstream.schemas.asyncapi import asyncapi

        print(json.dumps(asyncapi(settings), indent=2, ensure_ascii=False))
        return 0
    if args.topic is None:
        for topic in schemas.TOPICS:
            kind = "in" if topic in schemas.INPUTS else "internal" if topic in schemas.INTERNAL else "out"
            print(f"{settings.topic(topic):<32} {kind:<9} {schemas.version(topic) or '(no schema field)':<26} "
                  f"key: {schemas.KEYS[topic]}")
        return 0
    topic = schemas.topic_name(args.topic, settings.topic_prefix)
    if args.validate is None:
        print(json.dumps(schemas.load(topic), indent=2, ensure_ascii=False))
        return 0
    from pathlib import Path

    if args.validate != "-" and not Path(args.validate).is_file():
        raise ConfigError(f"{args.validate} does not exist; pass a JSON-lines file of {topic} records")
    lines = sys.stdin if args.validate == "-" else open(args.validate, encoding="utf-8")
    bad = total = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        total += 1
        try:
            problems = schemas.errors(topic, json.loads(line))
        except ValueError as exc:
            problems = [f"not JSON ({exc})"]
        for problem in problems:
            print(f"{args.validate}:{number}: {problem}")
        bad += bool(problems)
    print(f"{total - bad} of {total} records match {schemas.version(topic) or topic}", file=sys.stderr)
    return 1 if bad else 0


def cmd_topics(args: argparse.Namespace) -> int:
    from mmstream.commands import topics

    settings = _settings(args)
    if args.script:
        print(topics.script(settings))
    elif args.create:
        for name in topics.create(settings):
            print(name)
    else:
        print(topics.table(settings))
    return 0


def cmd_sink(args: argparse.Namespace) -> int:
    from mmstream.sinks.runner import run_sink

    settings = _settings(args)
    topics = [t.strip() for t in args.topics.split(",") if t.strip()]
    run_sink(settings, args.dsn, topics, args.group, batch_size=args.batch_size, table_prefix=args.table_prefix,
             idle_exit=args.exit_when_idle, metrics_port=args.metrics_port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="mmstream", description="Real-time multimodal brand intelligence on Kafka.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = add("broker", cmd_broker, "Run the embedded Kafka-protocol broker (tansu, memory only) in the foreground.")
    p.add_argument("--port", type=int, default=9092, help="TCP port on 127.0.0.1 (default 9092)")

    p = add("topics", cmd_topics, "Every topic mmstream writes or reads, from its catalogue: partitions, configs, "
                                  "writers and readers under the current settings; --create makes the missing ones, "
                                  "--script prints kafka-topics.sh commands for an admin.")
    _kafka_options(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--create", action="store_true", help="create every missing topic on the broker (existing ones "
                      "are left as they are): MMSTREAM_PARTITIONS, MMSTREAM_ANALYTICS_PARTITIONS, "
                      "MMSTREAM_REPLICATION_FACTOR")
    what.add_argument("--script", action="store_true", help="print the kafka-topics.sh commands that create them")

    p = add("worker", cmd_worker, "Run a Faust worker: posts in, enriched results and dead letters out.")
    _kafka_options(p)
    p.add_argument("--brands", default=None, help="TOML file of brands and their aliases")
    p.add_argument("--web-port", type=int, default=None, help="HTTP port for /health and queries (default 6066)")
    p.add_argument("--batch-size", type=int, default=None, help="posts per micro-batch (default 32)")
    p.add_argument("--partitions", type=int, default=None, help="partitions of topics the worker creates (default 4)")
    p.add_argument("--app-id", default=None, help="consumer group / app id (default 'mmstream')")
    p.add_argument("--loglevel", default=None,
                   help="worker log level (default: MMSTREAM_LOG_LEVEL, else warning)")
    p.add_argument("--lanes", default=None, choices=("all", "text", "media", "inline"),
                   help="the lanes this worker runs (default: MMSTREAM_LANES, else all): text (posts; a post with "
                        "video or audio goes to the media topic; no media model loaded), media (the media topic), "
                        "or inline (no routing, as before lanes)")

    p = add("produce", cmd_produce, "Replay a JSON-lines file of posts into the input topic.")
    p.add_argument("file", help="JSON-lines file, one post per line ('-' for stdin)")
    _kafka_options(p)
    p.add_argument("--rate", type=float, default=None, help="posts per second (default: as fast as possible)")

    p = add("score", cmd_score, "Score a JSON-lines file of posts without Kafka (same plugins, same model): one "
            "output line per input line (a bad or blank one: its dead letter, with its 'line'); exit status 0 when "
            "every line got a result, 3 when some were dead-lettered.")
    p.add_argument("input", help="JSON-lines file of posts ('-' for stdin)")
    p.add_argument("-o", "--output", default="-", help="output JSON-lines file (default stdout)")
    p.add_argument("--brands", default=None, help="TOML file of brands and their aliases")
    p.add_argument("--batch-size", type=int, default=None, help="posts per batch (default 32)")

    p = add("demo", cmd_demo, "Start the embedded broker and a worker, replay the bundled sample posts, print results.")
    p.add_argument("--posts", default=None, help="JSON-lines file to replay instead of the bundled samples")
    p.add_argument("--rate", type=float, default=None, help="posts per second (default 20; with --serve 1)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for every result (default 180)")
    p.add_argument("--serve", action="store_true",
                   help="keep the dashboard up: the posts replayed at a steady pace, looping, until Ctrl-C")
    p.add_argument("--port", type=int, default=6066, help="with --serve: the dashboard's port (default 6066, "
                                                           "another free one when taken)")
    p.add_argument("--for", dest="duration", type=float, default=None, help="with --serve: stop after N seconds")

    p = add("train", cmd_train, "Train the fused model on ../shared/data over every plugin's features; write ONNX + config.")
    p.add_argument("--out", default=str(Settings().model_dir), help="output folder (default: the shipped model folder)")
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.add_argument("--epochs", type=int, default=12, help="training epochs of the fused head (default 12)")
    p.add_argument("--meme-images", type=int, default=1500, help="train tweets rendered as memes for the image branch")
    p.add_argument("--finetune-epochs", type=int, default=0,
                   help="first fine-tune the text encoder for N epochs and re-export it (needs the train extra: "
                        "pip install -e '.[train]'; ~30 min an epoch on 2 cores; resumable); 0 keeps the shipped encoder")
    p.add_argument("--limit", type=int, default=None, help="only the first N tweets of each split (a quick run)")
    p.add_argument("--sentiment-only", action="store_true", help="the fused sentiment head only: no topic, "
                   "complaint, emotion or multilingual heads (a quick check that a new modality joins fusion)")
    p.add_argument("--complaint-negatives", type=int, default=1,
                   help="complaint posts of the complaints train part join sentiment training as negatives, N times "
                        "per epoch (default 1; 0 turns it off)")
    p.add_argument("--media-texts", action="store_true",
                   help="inputs of their own for text heard in voice notes and videos and read in video frames "
                        "(audio_text, video_audio_text, video_text): they join the trained head as copies of the "
                        "derived text's input and train alone, text features standing in, so posts without media "
                        "text keep their answers; without it they are folded into image_text at run time")
    p.add_argument("--complaint-extra", action="store_true",
                   help="the complaint head also fits on OCR-style variants and on hard negatives (praise, news, "
                        "questions, announcements) from TweetEval sentiment train (mmstream.training.complaint_data)")
    p.add_argument("--complaint-praise", action="store_true",
                   help="the complaint head also fits on generated praise addressed to brands, with negations and "
                        "rhetorical questions (mmstream.training.complaint_data.brand_praise)")
    p.add_argument("--complaint-news", action="store_true",
                   help="the complaint head also fits on generated news headlines about brands, bad news included "
                        "(mmstream.training.complaint_data.brand_news)")
    p.add_argument("--multilingual-from", default=None, metavar="DIR",
                   help="write the multilingual heads of the model in DIR into the new one unchanged instead of "
                        "training them (their ~46k multilingual-e5 embeddings take the longest on a cold cache)")
    p.add_argument("--from", dest="start_from", default=None, metavar="DIR",
                   help="keep every head of the trained model in DIR as it is and add the inputs it lacks "
                        "(--media-texts; posts it read before get the same answers), or train its complaint head "
                        "again (--complaint-extra, --complaint-praise, --complaint-news)")
    p.add_argument("--cache", default=".cache", help="folder for features and checkpoints (default .cache)")

    p = add("eval", cmd_eval, "Evaluate the pipeline and model: sentiment, topics, memes, speed (table + JSON).")
    p.add_argument("--limit", type=int, default=None, help="only the first N sentiment test tweets")
    p.add_argument("--memes", type=int, default=300, help="held-out tweets rendered as memes (default 300; 0 skips)")
    p.add_argument("--media", type=int, nargs="?", const=100, default=0, metavar="N",
                   help="also N held-out tweets (default 100) spoken with espeak-ng as voice notes and videos and "
                        "burned into silent clips as captions, each against the same tweets as text: macro-recall, "
                        "brands matched, word error rate, real-time factor (needs espeak-ng; the set is built once "
                        "into ~/.cache/mmstream/media-eval; ~4-5 s a tweet on 2 cores)")
    p.add_argument("--media-only", action="store_true", help="only the media figures (of --media N, default 100)")
    p.add_argument("--json", default=None, help="write the JSON report to this file instead of stdout")
    p.add_argument("--update-card", action="store_true", help="record the report in the model's MODEL_CARD.md")

    p = add("bench", cmd_bench, "Throughput and latency against the raw-inference limit and a per-event peer.")
    from mmstream.bench.run import add_arguments as add_bench_arguments

    add_bench_arguments(p)

    p = add("schemas", cmd_schemas, "Print the JSON Schema of a topic's records (all topics listed without one), "
            "or the AsyncAPI 3 document of every topic.")
    p.add_argument("topic", nargs="?", default=None,
                   help="posts, enriched, dead-letter, brand-stats, late, topics, alerts or mentions")
    p.add_argument("--asyncapi", action="store_true", help="print the AsyncAPI 3.0 document (channels named with "
                                                            "--topic-prefix, the server from --broker)")
    p.add_argument("--validate", metavar="FILE", default=None,
                   help="check a JSON-lines file of records against TOPIC's schema instead ('-' for stdin); "
                        "exit 1 when one does not match")
    _kafka_options(p)

    p = add("sink", cmd_sink, "Upsert output topics into a database (SQLite or PostgreSQL), in a consumer group "
            "of its own; offsets are committed only after the database transaction.")
    p.add_argument("dsn", help="sqlite:///path/to.db or postgresql://user:password@host:5432/db "
                               "(other kinds: plugins, register_sink_kinds)")
    p.add_argument("--topics", default="enriched,brand-stats,alerts",
                   help="output topics to store, comma-separated, of enriched, dead-letter, brand-stats, late, "
                        "topics, alerts (default enriched,brand-stats,alerts)")
    p.add_argument("--group", default=None, help="consumer group (default '<app id>-sink'); a second sink into "
                                                  "another database needs its own")
    p.add_argument("--batch-size", type=int, default=500, help="records per database transaction, at most "
                                                                "(default 500)")
    p.add_argument("--table-prefix", default="mmstream_", help="prefix of the table names (default mmstream_)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    p.add_argument("--exit-when-idle", type=float, default=None, metavar="SECONDS",
                   help="stop after this many seconds without records (default: run until SIGTERM or Ctrl-C)")
    _kafka_options(p)

    p = add("plugins", cmd_plugins, "List every plugin: its modalities, hooks, version and source (and the ones "
            "that failed to load, with their error). `mmstream plugins new NAME` starts a plugin.")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    kit = p.add_subparsers(dest="action", metavar="ACTION")
    new = kit.add_parser("new", help="write a ready plugin package (pyproject with the entry point, a module, "
                         "a test, a README) that installs with pip and passes its own test",
                         description="Write a ready plugin package NAME/ under --dir: pip install -e it, "
                         "then pytest in it.")
    new.add_argument("name", help="the plugin's (and its modality's) name, a Python identifier, e.g. demo_plugin")
    new.add_argument("--dir", default=".", help="folder to write NAME/ into (default: here)")
    _plugin_commands(sub)
    return parser


def _plugin_commands(sub: argparse._SubParsersAction) -> None:
    """Sub-commands from plugins (the ``register_commands`` hook). A plugin that fails
    to load is left out here; the command that loads plugins reports it."""
    import logging

    from mmstream.plugin.manager import call_hook, get_plugin_manager

    quiet = logging.getLogger("mmstream.plugin.manager")
    level, quiet.disabled = quiet.disabled, True
    try:
        pm = get_plugin_manager(Settings.load(plugin_errors="skip"))
    except MMStreamError:
        return
    finally:
        quiet.disabled = level
    call_hook(pm, "register_commands", subparsers=sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MMStreamError as exc:
        print(f"mmstream: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP where a command asked for it (stopping.py)
        return 128 + getattr(exc, "signum", 2)


if __name__ == "__main__":
    sys.exit(main())
