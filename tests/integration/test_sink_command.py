"""The SQL sinks outside this process: `mmstream sink` names the path it tried, and the PostgreSQL store
adds the columns a newer mmstream writes to the table an older one made (a real server, tests/pgserver.py)."""
from __future__ import annotations

import pytest

from sink_samples import OLD_BRAND_STATS, STATS, stats_message


def test_the_sink_command_names_the_path_it_tried(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mmstream", "sink", "sqlite:///tmp/x.db"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and str(tmp_path / "tmp" / "x.db") in done.stderr, done.stderr
    assert "sqlite:////tmp/x.db" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_brand_stats_complaint_columns_in_postgresql():
    pytest.importorskip("psycopg")
    import psycopg

    from pgserver import PostgresServer, pg_bin
    from mmstream.sinks.postgres import PostgresStore

    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql")
    server = PostgresServer(bindir).start()
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:  # the table an older mmstream made
            conn.execute(OLD_BRAND_STATS.format(**PostgresStore.types))
        store = PostgresStore(server.dsn)
        assert store.describe().startswith("PostgreSQL postgres@127.0.0.1:")
        store.create_tables(["brand-stats"])
        store.write([stats_message(STATS, 0)])
        store.write([stats_message({**STATS, "complaints": 10, "complaint_share": 0.25}, 1)])  # an upsert updates them
        store.close()
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT brand, complaints, complaint_share FROM mmstream_brand_stats").fetchall() == [
                ("zenbank", 10, 0.25)]
            columns = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'mmstream_brand_stats' "
                "ORDER BY ordinal_position").fetchall()]
        assert columns[-5:] == ["complaints", "complaint_share", "duplicates", "campaign_posts", "excluded"], columns
    finally:
        server.stop()
