"""The command line refuses mistakes instead of guessing (issue 32, item 6): no abbreviations
(``demo --serv`` once started the never-ending demo), a broker URL a Kafka client can use
(``--broker http://...`` was taken silently), and the nearest flag or command for a typo."""
from __future__ import annotations

import argparse

import pytest

from mmstream.commands.cli import build_parser, main
from mmstream.errors import ConfigError


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


def refused(parser: argparse.ArgumentParser, argv: list[str], capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def every_parser(parser: argparse.ArgumentParser, path: str = "mmstream"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, f"{path} {name}")


def test_no_parser_takes_abbreviations(parser):
    parsers = dict(every_parser(parser))
    assert {"mmstream demo", "mmstream plugins new", "mmstream bench", "mmstream sink"} <= set(parsers)
    assert [path for path, p in parsers.items() if p.allow_abbrev] == []


def test_an_abbreviated_flag_is_refused_with_the_flag_it_resembles(parser, capsys):
    err = refused(parser, ["demo", "--serv"], capsys)
    assert "mmstream demo: error: unrecognized arguments: --serv; did you mean --serve?" in err
    err = refused(parser, ["produce", "posts.jsonl", "--brokr", "kafka://127.0.0.1:9092"], capsys)
    assert "did you mean --broker?" in err
    err = refused(parser, ["sink", "sqlite:///x.db", "--exit-when-idel", "3"], capsys)
    assert "did you mean --exit-when-idle?" in err
    err = refused(parser, ["--serve", "demo"], capsys)
    assert "--serve belongs after the command: demo" in err
    assert parser.parse_args(["demo", "--serve"]).serve is True  # the whole flag still works


def test_an_unknown_command_gets_the_nearest_one(parser, capsys):
    assert "did you mean 'demo'?" in refused(parser, ["demoo"], capsys)
    assert "did you mean" not in refused(parser, ["frobnicate"], capsys)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9092", "https://kafka.example:443", "kafka://127.0.0.1",
                                 "127.0.0.1", "kafka://host:0", "kafka://host:99999", "kafka://a:1,,b:2",
                                 "kafka://a:1,http://b:2", "kafka://exa mple:9092", ""])
def test_a_broker_url_kafka_cannot_use_is_refused_with_the_form_to_use(parser, capsys, url):
    err = refused(parser, ["worker", "--broker", url], capsys)
    assert "argument --broker:" in err and "use kafka://HOST:PORT" in err, err
    if url.startswith("http"):
        assert "is not a Kafka broker URL" in err


@pytest.mark.parametrize("url", ["kafka://127.0.0.1:9092", "127.0.0.1:9092", "kafka://b-1.example:9096,b-2.example:9096",
                                 "kafka://a:1,kafka://b:2", "[::1]:9092", "kafka://[::1]:9092", "broker:9092"])
def test_the_documented_broker_forms_are_accepted(parser, url):
    from mmstream.commands.parsing import check_broker_url

    assert parser.parse_args(["worker", "--broker", url]).broker == url
    assert check_broker_url(url) == url


def test_mmstream_broker_from_the_environment_is_checked_too(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MMSTREAM_BROKER", "http://127.0.0.1:9092")
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "1", "created_at": 0, "text": "hi"}\n')
    assert main(["produce", str(posts)]) == 2  # before any connection is tried
    err = capsys.readouterr().err
    assert "MMSTREAM_BROKER='http://127.0.0.1:9092'" in err and "use kafka://HOST:PORT" in err
    from mmstream.commands.parsing import check_broker_url

    with pytest.raises(ConfigError, match="MMSTREAM_BROKER"):
        check_broker_url("http://x:1", "MMSTREAM_BROKER")
