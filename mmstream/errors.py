"""One exception root for everything mmstream raises on purpose."""
from __future__ import annotations


class MMStreamError(Exception):
    """Root of every error mmstream raises deliberately."""

    #: the command line's exit status for this error (README "Commands")
    exit_status = 2


class ConfigError(MMStreamError):
    """A setting, file or artifact is missing or wrong; the message names the fix."""


class PortInUseError(ConfigError):
    """The web server's address is taken: the worker exits with status 73 before loading anything."""

    exit_status = 73


class PluginError(MMStreamError):
    """A plugin could not be loaded or broke its contract."""


class BrokerError(MMStreamError):
    """The embedded broker could not be started or reached."""


class PostError(MMStreamError):
    """One post cannot be processed; it becomes a dead-letter record.

    ``reason`` is a short machine code (``not_json``, ``missing_id`` ...),
    ``detail`` a sentence a person can act on, ``stage`` one of
    ``decode``, ``validate``, ``extract:<plugin>`` or ``model``.
    """

    def __init__(self, reason: str, detail: str, stage: str = "validate", trace: str | None = None) -> None:
        super().__init__(f"{stage}/{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.stage = stage
        #: for a plugin's bug (``plugin_error``): where it raised, bounded, without the host's paths
        self.trace = trace


class QueryError(MMStreamError, ValueError):
    """An HTTP query parameter is wrong (a bad ``from``, ``limit``, ``window`` ...): answered with
    status 400 and the message, which names the parameter and what it must be. Not :class:`PostError`:
    a query is not a post, and nothing about it is dead-lettered."""


class SchemaError(MMStreamError, ValueError):
    """A record does not match its topic's JSON Schema, or names a schema
    version this mmstream does not know; the message says where and what."""
