"""The command line's parser: strict about what it accepts, helpful about what it refuses.

* no abbreviations (``demo --serv`` is not ``demo --serve``): every parser, sub-commands and
  plugins' commands included, is a :class:`Parser` with ``allow_abbrev=False``;
* an unknown flag is refused by the (sub-)command it was given to, with the nearest flag of
  that command (``did you mean --serve?``), and an unknown command with the nearest command;
* ``--broker`` takes only what a Kafka client can use: ``kafka://HOST:PORT`` or ``HOST:PORT``,
  comma-separated for several brokers (:func:`broker_url`); ``http://...`` is refused.
"""
from __future__ import annotations

import argparse
import difflib
import re
from typing import NoReturn, Sequence

from mmstream.errors import ConfigError

BROKER_FORM = "kafka://HOST:PORT (several: kafka://HOST1:PORT,HOST2:PORT)"
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?)$")
_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)$")


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` without abbreviations and with "did you mean" for unknown
    flags and commands. ``add_subparsers`` hands out parsers of this class too."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None):
        namespace, extras = super().parse_known_args(args, namespace)
        flags = [a for a in extras if a.startswith("-") and a != "-" and not re.match(r"^-\d", a)]
        if flags:  # refused here, by the command whose flags they missed, not by the top-level parser
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._nearest(flags[0])}")
        return namespace, extras

    def _nearest(self, given: str) -> str:
        flag = given.split("=", 1)[0]
        options = sorted({o for action in self._actions for o in action.option_strings if o.startswith("--")})
        starts = [o for o in options if o.startswith(flag)]
        guess = starts[:1] if len(starts) == 1 else difflib.get_close_matches(flag, options, n=1, cutoff=0.6)
        if guess:
            return f"; did you mean {guess[0]}?"
        owners = [name for action in self._actions if isinstance(action, argparse._SubParsersAction)
                  for name, sub in action.choices.items()
                  if any(flag in a.option_strings for a in sub._actions)]
        return f"; {flag} belongs after the command: {' or '.join(owners)}" if owners else ""

    def error(self, message: str) -> NoReturn:
        choice = _CHOICE.search(message)
        if choice:
            choices = re.findall(r"'([^']*)'", choice["choices"])
            guess = difflib.get_close_matches(choice["given"], choices, n=1, cutoff=0.6)
            if guess:
                message += f"; did you mean {guess[0]!r}?"
        super().error(message)


def check_broker_url(url: str, what: str = "--broker") -> str:
    """``url`` when every comma-separated part is ``[kafka://]HOST:PORT``; else a
    :class:`ConfigError` that names ``what`` and the accepted form."""
    parts = [p.strip() for p in url.strip().split(",")]
    if not url.strip() or not all(parts):
        raise ConfigError(f"{what}={url!r} is not a Kafka broker URL: use {BROKER_FORM}")
    for part in parts:
        scheme, sep, rest = part.rpartition("://")
        if sep and scheme != "kafka":
            raise ConfigError(f"{what}={url!r}: {scheme}:// is not a Kafka broker URL (Kafka speaks its own "
                              f"protocol, not HTTP); use {BROKER_FORM}")
        host, colon, port = rest.rpartition(":")
        if not colon or not _HOST.match(host) or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{what}={url!r}: {part!r} is not HOST:PORT (a port from 1 to 65535); "
                              f"use {BROKER_FORM}")
    return url


def broker_url(value: str) -> str:
    """The ``--broker`` option's type: :func:`check_broker_url`, as an argparse error."""
    try:
        return check_broker_url(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--broker={value!r}: ")) from None
