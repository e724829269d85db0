"""Reading training and prediction tables from URLs: any fsspec filesystem, or a SQL database.

Why fsspec: one code path covers local files, ``file://``, ``s3://`` (s3fs), ``gs://`` (gcsfs),
``az://``/``abfs://`` (adlfs) and ``http(s)://``, with credentials coming from each cloud's usual
environment (``AWS_*``, ``AWS_ENDPOINT_URL`` for S3-compatible stores, application default
credentials...), so tunelab never handles them itself. Why SQLAlchemy for databases: Prefect
already depends on it, and a URL such as ``postgresql://user@host:5432/db`` plus a table name
or a query is what people already have.

Every failure is one line naming the source (with any password masked) and what was tried,
raised as :class:`DataValidationError` (fix the input: missing object, bad table, bad SQL,
unsupported suffix) or :class:`DataReadError` (the store or network failed: worth a retry).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pandas as pd

from tunelab.errors import DataReadError, DataValidationError, OutOfMemoryError
from tunelab.listing import some_names
from tunelab.sql_guard import check_query

#: URL schemes read through SQLAlchemy (a ``+driver`` suffix is allowed: ``postgresql+psycopg``).
SQL_SCHEMES = frozenset(
    {"postgresql", "postgres", "mysql", "mariadb", "sqlite", "mssql", "oracle", "duckdb"}
)
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
#: Query-string keys whose values are secrets (presigned URLs, SAS tokens, passwords).
_SECRET_KEYS = re.compile(r"pass|secret|token|sig|credential|key", re.IGNORECASE)
#: What every reader returns: frames, read when they are asked for (one, or one per chunk).
Frames = Generator[pd.DataFrame, None, None]
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


def _scheme(source: str) -> str | None:
    match = _URL.match(source)
    return match.group(1).lower() if match else None


def is_remote(source: str) -> bool:
    """True for anything with a URL scheme (``s3://``, ``file://``, ``postgresql://``...).

    Plain paths (including Windows ``C:\\...``, whose one-letter "scheme" never matches) stay
    with the local reader in :func:`tunelab.data.load_table`.
    """
    return isinstance(source, str) and _scheme(source) is not None


def is_sql(source: str) -> bool:
    scheme = _scheme(source)
    return scheme is not None and scheme.split("+", 1)[0] in SQL_SCHEMES


def mask_url(source: str) -> str:
    """The URL with its password and secret query values replaced by ``***``."""
    if "://" not in source:
        return source  # a plain path has no credentials
    try:
        parts = urlsplit(source)
    except ValueError:
        return source
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET_KEYS.search(k) else v) for k, v in pairs])
        query = query.replace("%2A%2A%2A", "***")
    # Rebuilt by hand: urlunsplit drops the empty host of ``sqlite:////abs/path.db``.
    text = f"{source.split('://', 1)[0]}://{netloc}{parts.path}"
    return text + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def _secrets(source: str) -> list[str]:
    try:
        parts = urlsplit(source)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if _SECRET_KEYS.search(k) and v]
    return found


def _one_line(exc: BaseException, source: str) -> str:
    """The first line of an error, with any secret of ``source`` scrubbed out."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for secret in _secrets(source):
        text = text.replace(secret, "***")
    return text


def read_source(
    source: str | Path,
    *,
    query: str | None = None,
    table: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Reads a whole table from a path, an fsspec URL, or a SQL URL with ``table`` or ``query``.

    ``storage_options`` go to the filesystem (e.g. ``{"client_kwargs": {"endpoint_url": ...}}``
    for an S3-compatible store; ``AWS_ENDPOINT_URL`` works too).
    """
    with contextlib.closing(
        _chunks(source, query=query, table=table, options=storage_options, chunk_rows=None)
    ) as chunks:
        return next(chunks)


def read_chunks(
    source: str | Path,
    *,
    chunk_rows: int,
    query: str | None = None,
    table: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Frames:
    """The same table as :func:`read_source`, ``chunk_rows`` rows at a time (the last may be
    shorter), so a table larger than memory can be scored. Index labels run on across chunks.
    """
    return _chunks(source, query=query, table=table, options=storage_options, chunk_rows=chunk_rows)


def _chunks(
    source: str | Path,
    *,
    query: str | None,
    table: str | None,
    options: dict[str, Any] | None,
    chunk_rows: int | None,
) -> Frames:
    """The one reader: checks the arguments now, and reads when the first chunk is asked for."""
    if not isinstance(source, (str, Path)) or not str(source):
        raise DataValidationError(f"A data source must be a non-empty string, not {source!r}")
    if isinstance(source, str) and is_sql(source):
        return _read_sql(source, query=query, table=table, chunk_rows=chunk_rows)
    if query is not None or table is not None:
        raise DataValidationError(
            f"--query/--table apply to SQL sources only, not {mask_url(str(source))}"
        )
    if isinstance(source, str) and is_remote(source):
        return _read_remote(source, options or {}, chunk_rows)
    return _read_local(Path(source), chunk_rows)


# --- files -----------------------------------------------------------------------------------
def _endpoint_hint(source: str, options: dict[str, Any]) -> str:
    if _scheme(source) not in ("s3", "s3a"):
        return ""
    endpoint = (options.get("client_kwargs") or {}).get("endpoint_url") or options.get(
        "endpoint_url"
    )
    endpoint = (
        endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    return f" (endpoint {endpoint})" if endpoint else ""


def _check_suffix(path: str, shown: str) -> None:
    if not path.lower().endswith(FILE_SUFFIXES):
        raise DataValidationError(
            f"Unsupported file type for {shown}; use one of: {', '.join(FILE_SUFFIXES)}"
        )


def _parse(stream: IO[bytes], path: str, chunk_rows: int | None) -> Frames:
    """CSV (gzip by suffix) or Parquet frames from an open binary stream."""
    if path.lower().endswith((".parquet", ".pq")):
        if chunk_rows is None:
            yield pd.read_parquet(stream)
            return
        yield from _parquet_chunks(stream, chunk_rows)
        return
    compression = "gzip" if path.lower().endswith(".gz") else None
    if chunk_rows is None:
        yield pd.read_csv(stream, compression=compression)
        return
    with pd.read_csv(stream, compression=compression, chunksize=chunk_rows) as reader:
        yield from reader


def _parquet_chunks(stream: IO[bytes], chunk_rows: int) -> Frames:
    """Row batches as frames with the index ``read_parquet`` would give the whole file (pandas'
    metadata rebuilds a stored index column; a stored range is continued across batches)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream)
    metadata = parquet.schema_arrow.metadata
    index = (parquet.schema_arrow.pandas_metadata or {}).get("index_columns") or []
    stored_range = index[0] if len(index) == 1 and isinstance(index[0], dict) else None
    offset = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        frame = pa.Table.from_batches([batch]).replace_schema_metadata(metadata).to_pandas()
        if stored_range is not None:
            start, step = (
                stored_range["start"] + offset * stored_range["step"],
                stored_range["step"],
            )
            frame.index = pd.RangeIndex(
                start, start + step * len(frame), step, name=stored_range.get("name")
            )
        offset += len(frame)
        yield frame


def _read_local(path: Path, chunk_rows: int | None) -> Frames:
    shown = repr(str(path))
    _check_suffix(path.name, shown)
    if not path.exists():
        raise DataValidationError(f"Data file not found: {shown}")
    if path.is_dir():
        raise DataValidationError(f"Data path {shown} is a directory, not a file")
    return _guarded_local(path, shown, chunk_rows)


def _guarded_local(path: Path, shown: str, chunk_rows: int | None) -> Frames:
    parquet = path.name.lower().endswith((".parquet", ".pq"))
    first = True
    try:
        with path.open("rb") as stream:
            for frame in _parse(stream, path.name, chunk_rows):
                if first and not parquet:
                    check_csv_header(path, frame)
                first = False
                yield frame
    except DataValidationError:
        raise
    except Exception as exc:
        raise _local_error(exc, shown, parquet) from None


def _local_error(exc: Exception, shown: str, parquet: bool) -> Exception:
    if is_out_of_memory(exc):
        return out_of_memory(shown)
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataValidationError(f"Data file {shown} is empty")
    if isinstance(exc, (pd.errors.ParserError, UnicodeDecodeError)):
        kind = "Parquet" if parquet else "CSV"
        return DataValidationError(f"Could not parse {shown} as {kind}: {_one_line(exc, '')}")
    if isinstance(exc, OSError):
        return DataReadError(f"Could not read {shown}: {_one_line(exc, '')}")
    if isinstance(exc, ValueError):
        return DataValidationError(f"Could not read {shown}: {_one_line(exc, '')}")
    return exc


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError (numpy's and pyarrow's ArrowMemoryError are ones), or an Arrow/C++ error
    that says so: retrying cannot help, the same table needs the same memory."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)[:300].lower()
    return "out of memory" in text or "bad_alloc" in text or "unable to allocate" in text


#: Separators people export instead of commas; a file using one reads as a single column.
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
_MANGLED_DUPLICATE = re.compile(r"(.+)\.(\d+)")


def check_csv_header(path: Path, frame: pd.DataFrame) -> None:
    """Catches what ``read_csv`` silently "fixes": other delimiters and repeated names.

    pandas renames a repeated header ``x1`` to ``x1.1``; the raw first row (read with
    ``header=None``) tells a renamed duplicate from a real column called ``x1.1``.
    """
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for delimiter, label in OTHER_DELIMITERS.items():
            if delimiter in header:
                raise DataValidationError(
                    f"{str(path)!r} looks {delimiter!r}-delimited ({label}s in the header "
                    f"{header[:80]!r}); tunelab reads comma-separated files, so save it with "
                    "commas"
                )
    names = [str(c) for c in frame.columns]
    if any((m := _MANGLED_DUPLICATE.fullmatch(n)) and m.group(1) in names for n in names):
        raw = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
        raw_names = [str(n) for n in raw]
        duplicates = sorted({n for n in raw_names if raw_names.count(n) > 1})
        if duplicates:
            raise DataValidationError(
                f"Duplicate column names in {str(path)!r}: {some_names(duplicates)}"
            )


def out_of_memory(shown: str) -> OutOfMemoryError:
    return OutOfMemoryError(
        f"Ran out of memory reading {shown}: the table does not fit in the memory this process "
        "may use; read a smaller table (a sample of rows, fewer columns) or give it more memory"
    )


def _read_remote(source: str, options: dict[str, Any], chunk_rows: int | None) -> Frames:
    shown = mask_url(source)
    path = urlsplit(source).path
    _check_suffix(path, shown)
    return _guarded_remote(source, shown, path, options, chunk_rows)


def _guarded_remote(
    source: str, shown: str, path: str, options: dict[str, Any], chunk_rows: int | None
) -> Frames:
    from fsspec.core import url_to_fs

    hint = _endpoint_hint(source, options)
    try:
        # fsspec picks the filesystem from the scheme; a missing backend (s3fs, gcsfs...)
        # surfaces here as ImportError with the package to install. ``url_to_fs`` + ``open``
        # rather than ``fsspec.open``: that one reads ``?`` in a pre-signed URL as a glob.
        filesystem, fs_path = url_to_fs(source, **options)
        with filesystem.open(fs_path, "rb") as stream:
            yield from _parse(stream, path, chunk_rows)
    except Exception as exc:
        raise _remote_error(exc, source, shown, path, hint) from None


def _remote_error(exc: Exception, source: str, shown: str, path: str, hint: str) -> Exception:
    """The one-line error for a failed remote read; :class:`DataReadError` when a retry may help."""
    parquet = path.lower().endswith((".parquet", ".pq"))
    if is_out_of_memory(exc):
        return out_of_memory(shown)
    if isinstance(exc, ImportError):
        return DataValidationError(f"Could not read {shown}: {_one_line(exc, source)}")
    if isinstance(exc, FileNotFoundError):
        cause = exc.__cause__  # fsspec's http filesystem reports a dead host as "not found"
        if cause is not None and not isinstance(cause, FileNotFoundError):
            exc = cause  # type: ignore[assignment]
        else:
            return DataValidationError(f"Could not read {shown}: no such object{hint}")
    if isinstance(exc, PermissionError):
        return DataValidationError(
            f"Could not read {shown}: access denied ({_one_line(exc, source)}){hint}"
        )
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataValidationError(f"Could not read {shown}: the file is empty")
    if isinstance(exc, (pd.errors.ParserError, UnicodeDecodeError)):
        return DataValidationError(
            f"Could not parse {shown} as {'Parquet' if parquet else 'CSV'}: "
            f"{_one_line(exc, source)}"
        )
    if _is_not_found(exc):
        return DataValidationError(f"Could not read {shown}: no such object{hint}")
    # network, DNS, TLS, throttling: the store failed, not the input
    failed = "the connection failed" if _is_connection_error(exc) else "reading failed"
    return DataReadError(
        f"Could not read {shown}: {failed} ({type(exc).__name__}: {_one_line(exc, source)}){hint}"
    )


def _is_connection_error(exc: BaseException) -> bool:
    names = {kind.__name__ for kind in type(exc).__mro__}
    return bool(names & {"ConnectionError", "ClientConnectorError", "ClientConnectionError"})


def _is_not_found(exc: BaseException) -> bool:
    """HTTP 404 from aiohttp (fsspec's http filesystem) is not a FileNotFoundError.

    The message check wants a status code, not digits inside an address: a refused connection
    to port 40433 names "127.0.0.1:40433" and is not a missing object.
    """
    if getattr(exc, "status", None) == 404:
        return True
    return re.search(r"(?<![\w.:/])404(?!\d)", str(exc)[:80]) is not None


# --- SQL -------------------------------------------------------------------------------------
def _sql_url(source: str) -> str:
    """The URL SQLAlchemy connects with: read-only where the URL can say so.

    ``postgres://`` and driver-less ``postgresql://`` use psycopg 3 when psycopg2 is absent
    (SQLAlchemy's default driver is psycopg2; tunelab's ``[sql]`` extra installs psycopg 3).
    A SQLite file opens as ``file:<path>?mode=ro`` (SQLite's own read-only mode, which also
    refuses to create a missing file).
    """
    scheme = _scheme(source) or ""
    rest = source[len(scheme) + 3 :]
    if scheme in ("postgres", "postgresql"):
        import importlib.util

        has_psycopg2 = importlib.util.find_spec("psycopg2") is not None
        has_psycopg3 = importlib.util.find_spec("psycopg") is not None
        driver = "postgresql+psycopg" if has_psycopg3 and not has_psycopg2 else "postgresql"
        return f"{driver}://{rest}"
    if scheme.split("+", 1)[0] == "sqlite":
        database, _, params = rest.removeprefix("/").partition("?")
        if database and database != ":memory:" and not database.startswith("file:"):
            extra = f"&{params}" if params else ""
            return f"{scheme}:///file:{database}?mode=ro&uri=true{extra}"
    return source


def _connect_args(source: str) -> dict[str, Any]:
    """A short connect timeout so a wrong host fails in seconds, not minutes; and a session
    whose transactions are read-only, so a query that slips past the check still cannot write."""
    base = (_scheme(source) or "").split("+", 1)[0]
    if base in ("postgres", "postgresql"):
        args: dict[str, Any] = {"options": "-c default_transaction_read_only=on"}
        if "connect_timeout" not in source:
            args["connect_timeout"] = 10
        return args
    if base == "duckdb":
        return {"read_only": True}
    return {}


#: Statements that make the transaction read-only, per dialect (run first on each connection).
_READ_ONLY_STATEMENTS = {
    "postgresql": "SET TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}


def _read_sql(
    source: str, *, query: str | None, table: str | None, chunk_rows: int | None
) -> Frames:
    shown = mask_url(source)
    if (query is None) == (table is None):
        raise DataValidationError(
            f"A SQL source needs exactly one of a table (--table) or a query (--query): {shown}"
        )
    if query is not None:
        check_query(query)
    _check_sqlite_file(source, shown)
    return _guarded_sql(source, shown, query=query, table=table, chunk_rows=chunk_rows)


def _check_sqlite_file(source: str, shown: str) -> None:
    """Read-only SQLite cannot open a missing file; say so instead of "unable to open"."""
    if (_scheme(source) or "").split("+", 1)[0] != "sqlite":
        return
    database = urlsplit(source).path.removeprefix("/").split("?")[0]
    on_disk = database and database != ":memory:" and not database.startswith("file:")
    if on_disk and not Path(database).is_file():
        raise DataValidationError(f"Could not read {shown}: no database file {database!r}")


def _guarded_sql(
    source: str, shown: str, *, query: str | None, table: str | None, chunk_rows: int | None
) -> Frames:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc

    what = f"table {table!r}" if table is not None else "the query"
    try:
        engine = sa.create_engine(_sql_url(source), connect_args=_connect_args(source))
    except (ImportError, sa_exc.NoSuchModuleError, sa_exc.ArgumentError) as exc:
        raise DataValidationError(
            f"Could not read {shown}: {_one_line(exc, source)} (install tunelab[sql] "
            "for PostgreSQL, or the database's SQLAlchemy driver)"
        ) from None
    try:
        # stream_results: a server-side cursor, so chunks are fetched as they are scored.
        with engine.connect().execution_options(stream_results=chunk_rows is not None) as conn:
            read_only = _READ_ONLY_STATEMENTS.get(engine.dialect.name)
            if read_only:
                conn.execute(sa.text(read_only))
            yield from _sql_frames(conn, shown, query=query, table=table, chunk_rows=chunk_rows)
    except DataValidationError:
        raise
    except Exception as exc:  # pandas wraps driver errors in its own DatabaseError: unwrap
        if is_out_of_memory(exc):
            raise out_of_memory(shown) from None
        cause = _sql_cause(exc, sa_exc.DBAPIError)
        detail = _one_line(getattr(cause, "orig", None) or cause, source)
        if re.search(r"read-?only", detail, re.IGNORECASE):
            raise DataValidationError(
                f"Refused to write through {shown}: tunelab opens databases read-only ({detail})"
            ) from None
        if isinstance(cause, (sa_exc.OperationalError, sa_exc.InterfaceError, OSError)):
            raise DataReadError(f"Could not connect to {shown} to read {what}: {detail}") from None
        raise DataValidationError(f"Could not read {what} from {shown}: {detail}") from None
    finally:
        engine.dispose()


def _sql_frames(
    conn: Any, shown: str, *, query: str | None, table: str | None, chunk_rows: int | None
) -> Frames:
    import sqlalchemy as sa

    if table is not None:
        schema, _, name = table.rpartition(".")
        if not sa.inspect(conn).has_table(name, schema=schema or None):
            raise DataValidationError(f"Could not read {shown}: no table {table!r}")
        read = pd.read_sql_table(name, conn, schema=schema or None, chunksize=chunk_rows)
    else:
        read = pd.read_sql_query(sa.text(query), conn, chunksize=chunk_rows)  # type: ignore[arg-type]
    if isinstance(read, pd.DataFrame):
        yield read
        return
    start = 0
    for frame in read:
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame


def _sql_cause(exc: BaseException, kind: type[BaseException]) -> BaseException:
    """The first error of ``kind`` in the ``__cause__``/``__context__`` chain (else ``exc``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return exc
