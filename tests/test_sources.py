"""Data sources against real servers: PostgreSQL, an S3-compatible store (moto) and HTTP."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tunelab
from tests.servers import free_port, http_server, postgres_server, s3_server
from tunelab.data import load_table
from tunelab.errors import DataReadError, DataValidationError
from tunelab.sources import is_remote, mask_url, read_source

CHURN_CSV = Path(tunelab.__file__).parent / "example_data" / "churn.csv"


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return pd.read_csv(CHURN_CSV).head(100)


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_is_remote_and_masking():
    assert is_remote("s3://b/x.csv") and is_remote("file:///tmp/x.csv")
    assert is_remote("postgresql+psycopg://u@h/db")
    assert not is_remote("data/x.csv") and not is_remote("C:\\data\\x.csv")
    assert mask_url("postgresql://me:hunter2@db:5432/x") == "postgresql://me:***@db:5432/x"
    masked = mask_url("https://h/x.csv?sig=abc&v=1")
    assert "abc" not in masked and "v=1" in masked


# --- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres(tmp_path_factory, churn) -> str:
    with postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        import sqlalchemy as sa

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        churn.to_sql("churn", engine, index=False)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA sales"))
        churn.head(10).to_sql("customers", engine, schema="sales", index=False)
        engine.dispose()
        yield url


def test_postgres_table_and_query(postgres, churn):
    same(read_source(postgres, table="churn"), churn)
    same(read_source(postgres, table="sales.customers"), churn.head(10))
    got = read_source(postgres, query="SELECT plan, count(*) AS n FROM churn GROUP BY plan")
    assert got.set_index("plan")["n"].to_dict() == churn["plan"].value_counts().to_dict()


def test_postgres_errors_name_the_source_without_the_password(postgres):
    with pytest.raises(DataValidationError, match=r"no table 'nope'"):
        read_source(postgres, table="nope")
    with pytest.raises(DataValidationError, match="Could not read the query from postgresql://"):
        read_source(postgres, query="SELECT missing_column FROM churn")
    with pytest.raises(DataValidationError, match="exactly one of a table"):
        read_source(postgres)
    dead = f"postgresql://me:hunter2@127.0.0.1:{free_port()}/x"
    with pytest.raises(DataReadError) as caught:
        read_source(dead, table="churn")
    message = str(caught.value)
    assert "hunter2" not in message and "me:***@127.0.0.1" in message
    assert "\n" not in message


# --- S3 --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3(churn, tmp_path_factory):
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install tunelab[s3])")
    with s3_server() as endpoint, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="tables")
        client.put_object(Bucket="tables", Key="churn.csv", Body=churn.to_csv(index=False))
        parquet = tmp_path_factory.mktemp("s3") / "churn.parquet"
        churn.to_parquet(parquet)
        client.upload_file(str(parquet), "tables", "nested/churn.parquet")
        yield endpoint


def test_s3_csv_and_parquet(s3, churn):
    same(read_source("s3://tables/churn.csv"), churn)
    same(load_table("s3://tables/nested/churn.parquet"), churn)
    explicit = {"client_kwargs": {"endpoint_url": s3}}
    same(read_source("s3://tables/churn.csv", storage_options=explicit), churn)


def test_s3_missing_object(s3):
    with pytest.raises(DataValidationError) as caught:
        read_source("s3://tables/missing.csv")
    assert str(caught.value) == (
        f"Could not read s3://tables/missing.csv: no such object (endpoint {s3})"
    )


# --- HTTP and local URLs ---------------------------------------------------------------------
def test_http_csv_gz_and_parquet(churn, tmp_path: Path):
    churn.to_csv(tmp_path / "churn.csv.gz", index=False)
    churn.to_parquet(tmp_path / "churn.parquet")
    with http_server(tmp_path) as base:
        same(load_table(f"{base}/churn.csv.gz"), churn)
        same(read_source(f"{base}/churn.parquet"), churn)
        with pytest.raises(DataValidationError, match="no such object"):
            read_source(f"{base}/missing.csv")
    same(load_table((tmp_path / "churn.parquet").as_uri()), churn)


def test_a_port_number_with_404_in_it_is_not_a_missing_object():
    """A refused connection to port 40433 once read as "HTTP 404" (a flaky test found it)."""
    from tunelab.sources import _is_not_found

    assert not _is_not_found(ConnectionError("Cannot connect to host 127.0.0.1:40433 ssl:default"))
    assert _is_not_found(OSError("404, message='Not Found', url='http://h/x.csv'"))


def test_file_errors(tmp_path: Path):
    with pytest.raises(DataReadError, match=r"^Could not read http://127\.0\.0\.1:\d+/x\.csv: "):
        read_source(f"http://127.0.0.1:{free_port()}/x.csv")
    with pytest.raises(DataValidationError, match="Unsupported file type"):
        read_source("s3://tables/x.json")
    with pytest.raises(DataValidationError, match="no such object"):
        read_source((tmp_path / "none.csv").as_uri())
    with pytest.raises(DataValidationError, match="SQL sources only"):
        read_source("s3://tables/x.csv", table="t")


# --- read-only SQL (issue 19) ----------------------------------------------------------------
WRITES = {
    "drop": "DROP TABLE {t}",
    "delete in a WITH": "WITH x AS (SELECT 1) DELETE FROM {t}",
    "data-changing CTE": "WITH gone AS (DELETE FROM {t} RETURNING *) SELECT * FROM gone",
    "select into": "SELECT * INTO copied FROM {t}",
    "two statements": "SELECT 1; DROP TABLE {t}",
}


@pytest.fixture
def sqlite_url(tmp_path, churn) -> str:
    import sqlite3

    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        churn.to_sql("churn", conn, index=False)
    return f"sqlite:///{path}"


def _rows(url: str) -> int:
    return len(read_source(url, table="churn"))


@pytest.mark.parametrize("kind", list(WRITES), ids=list(WRITES))
def test_queries_that_write_are_refused_and_the_table_stays(kind, sqlite_url, postgres, churn):
    for url in (sqlite_url, postgres):
        with pytest.raises(DataValidationError, match="tunelab only reads") as caught:
            read_source(url, query=WRITES[kind].format(t="churn"))
        assert "\n" not in str(caught.value)
        assert _rows(url) == len(churn)


@pytest.mark.parametrize("which", ["sqlite", "postgres"])
def test_the_connection_itself_is_read_only(which, sqlite_url, postgres, churn):
    """Past the statement check (called directly here), the database refuses to write."""
    from tunelab.sources import _guarded_sql

    url = sqlite_url if which == "sqlite" else postgres
    for statement in ("DROP TABLE churn", "DELETE FROM churn", "CREATE TABLE x (a int)"):
        chunks = _guarded_sql(url, url, query=statement, table=None, chunk_rows=None)
        with pytest.raises(DataValidationError, match="read-only|readonly"):
            next(chunks)
    assert _rows(url) == len(churn)


def test_cli_refuses_a_drop_query_with_one_line(sqlite_url, tmp_path, churn, capsys):
    from tunelab.cli import main

    argv = ["run", "--data", sqlite_url, "--query", "DROP TABLE churn", "--target", "churned"]
    code = main([*argv, "--no-prefect", "--data-dir", str(tmp_path / "home")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "read-only SELECT" in err and _rows(sqlite_url) == len(churn)


def test_sqlite_urls_are_shown_as_given_and_a_missing_file_is_not_created(tmp_path):
    assert mask_url("sqlite:////abs/path.db") == "sqlite:////abs/path.db"
    assert mask_url("sqlite:///rel.db") == "sqlite:///rel.db"
    assert mask_url("data/x.csv") == "data/x.csv"
    missing = tmp_path / "none.db"
    with pytest.raises(DataValidationError, match=f"sqlite:///{missing}: no database file"):
        read_source(f"sqlite:///{missing}", table="t")
    assert not missing.exists()


def test_select_queries_still_read(sqlite_url, churn):
    got = read_source(sqlite_url, query="WITH c AS (SELECT * FROM churn) SELECT * FROM c")
    same(got, churn)


@pytest.mark.parametrize("parser", ["sqlparse", "plain"])
def test_query_check_with_and_without_sqlparse(parser, monkeypatch):
    import tunelab.sql_guard as guard

    if parser == "plain":

        def no_sqlparse(query):
            raise ImportError("sqlparse")

        monkeypatch.setattr(guard, "_sqlparse_words", no_sqlparse)
    for query in WRITES.values():
        with pytest.raises(DataValidationError):
            guard.check_query(query.format(t="t"))
    for query in (
        "SELECT a, 'drop table t; delete' AS note, created_at FROM t -- DELETE",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r;",
        "(SELECT 1) UNION (SELECT 2)",
    ):
        guard.check_query(query)


# --- chunks, URLs, long messages -------------------------------------------------------------
def test_chunks_are_the_table(tmp_path, churn, sqlite_url):
    from tunelab.sources import read_chunks

    tail = churn.tail(37)  # an index that does not start at 0 survives Parquet
    tail.to_parquet(tmp_path / "t.parquet")
    churn.to_csv(tmp_path / "t.csv.gz", index=False)
    for source, expected, kwargs in (
        (str(tmp_path / "t.parquet"), tail, {}),
        (str(tmp_path / "t.csv.gz"), churn, {}),
        (sqlite_url, churn, {"table": "churn"}),
        (sqlite_url, churn, {"query": "SELECT * FROM churn"}),
    ):
        chunks = list(read_chunks(source, chunk_rows=10, **kwargs))
        assert max(len(c) for c in chunks) == 10
        pd.testing.assert_frame_equal(pd.concat(chunks), read_source(source, **kwargs))
        pd.testing.assert_frame_equal(pd.concat(chunks), expected, check_index_type=False)


def test_presigned_url_to_a_dead_host_is_a_retryable_connection_failure():
    from tunelab.flows.retries import retry_unless_user_error  # noqa: F401 - the policy reads .retryable

    url = f"http://127.0.0.1:{free_port()}/t.csv?X-Amz-Signature=s3cr3t&X-Amz-Expires=60"
    with pytest.raises(DataReadError) as caught:
        read_source(url)
    message = str(caught.value)
    assert "the connection failed" in message and "no such object" not in message
    assert "s3cr3t" not in message and caught.value.retryable


def test_presigned_url_reads(tmp_path, churn):
    churn.to_csv(tmp_path / "churn.csv", index=False)
    with http_server(tmp_path) as base:
        same(read_source(f"{base}/churn.csv?X-Amz-Signature=abc&X-Amz-Expires=60"), churn)


def test_ten_thousand_unexpected_columns_make_a_short_message(tmp_path):
    from tunelab.pipelines import infer_schema
    from tunelab.scoring import check_prediction_input

    train = pd.DataFrame({"x": range(30), "y": [0, 1] * 15})
    schema = infer_schema(train[["x"]], train["y"], "binary")
    wide = pd.DataFrame({f"extra_{i}": [1.0] for i in range(10_000)}).assign(x=1)
    with pytest.raises(DataValidationError) as caught:
        check_prediction_input(wide, schema)
    message = str(caught.value)
    assert len(message) < 300 and "'extra_0'" in message and "10,000 in all" in message
    with pytest.raises(DataValidationError) as caught:
        check_prediction_input(wide.drop(columns="x").iloc[:, :0].assign(z=[1]), schema)
    assert "'x'" in str(caught.value)


# --- size ------------------------------------------------------------------------------------
def _gzip_bomb(path: Path, expanded: int = 1 << 30) -> Path:
    """A ~1 MB .csv.gz of ``expanded`` bytes of rows: one compressed block, repeated (gzip
    members concatenate), so the test does not spend seconds compressing a gigabyte."""
    import gzip

    block = gzip.compress(b"0.5,1.25,3.5,7.75,2.0,9.5,yes\n" * 100_000)
    with path.open("wb") as out:
        out.write(gzip.compress(b"a,b,c,d,e,f,label\n"))
        for _ in range(expanded // 3_000_000 + 1):
            out.write(block)
    return path


def test_a_table_larger_than_memory_fails_once_with_one_line(tmp_path):
    """Under a 1.5 GB address-space limit (prlimit --as), a 1 GiB table cannot be read."""
    import shutil
    import subprocess
    import sys

    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    bomb = _gzip_bomb(tmp_path / "bomb.csv.gz")
    assert bomb.stat().st_size < 5_000_000
    argv = ["run", "--data", str(bomb), "--target", "label", "--no-prefect", "--no-report"]
    argv += ["--data-dir", str(tmp_path / "home"), "--max-evals", "1", "--families", "linear"]
    done = subprocess.run(
        ["prlimit", "--as=1500000000", sys.executable, "-m", "tunelab.cli", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Ran out of memory reading" in errors[0], done.stderr[-3000:]
    assert not (tmp_path / "home" / "registry").exists()
