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

import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from tunelab.errors import DataReadError, DataValidationError

#: URL schemes read through SQLAlchemy (a ``+driver`` suffix is allowed: ``postgresql+psycopg``).
SQL_SCHEMES = frozenset(
    {"postgresql", "postgres", "mysql", "mariadb", "sqlite", "mssql", "oracle", "duckdb"}
)
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
#: Query-string keys whose values are secrets (presigned URLs, SAS tokens, passwords).
_SECRET_KEYS = re.compile(r"pass|secret|token|sig|credential|key", re.IGNORECASE)
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
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


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
    source: str,
    *,
    query: str | None = None,
    table: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Reads a table from a SQL URL (with ``table`` or ``query``) or an fsspec URL.

    ``storage_options`` go to the filesystem (e.g. ``{"client_kwargs": {"endpoint_url": ...}}``
    for an S3-compatible store; ``AWS_ENDPOINT_URL`` works too).
    """
    if not isinstance(source, str) or not source:
        raise DataValidationError(f"A data source must be a non-empty string, not {source!r}")
    if is_sql(source):
        return _read_sql(source, query=query, table=table)
    if query is not None or table is not None:
        raise DataValidationError(
            f"--query/--table apply to SQL sources only, not {mask_url(source)}"
        )
    return _read_file(source, storage_options or {})


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


def _read_file(source: str, options: dict[str, Any]) -> pd.DataFrame:
    import fsspec

    shown = mask_url(source)
    path = urlsplit(source).path.lower()
    if not path.endswith(FILE_SUFFIXES):
        raise DataValidationError(
            f"Unsupported file type for {shown}; use one of: {', '.join(FILE_SUFFIXES)}"
        )
    hint = _endpoint_hint(source, options)
    parquet = path.endswith((".parquet", ".pq"))
    try:
        # fsspec picks the filesystem from the scheme; a missing backend (s3fs, gcsfs...)
        # surfaces here as ImportError with the package to install.
        with fsspec.open(source, "rb", compression=None if parquet else "infer", **options) as f:
            return pd.read_parquet(f) if parquet else pd.read_csv(f)
    except ImportError as exc:
        raise DataValidationError(f"Could not read {shown}: {_one_line(exc, source)}") from None
    except FileNotFoundError as exc:
        cause = exc.__cause__  # fsspec's http filesystem reports a dead host as "not found"
        dead_host = cause is not None and not isinstance(cause, FileNotFoundError)
        if cause is not None and dead_host and not _is_not_found(cause):
            raise DataReadError(
                f"Could not read {shown}: {type(cause).__name__}: {_one_line(cause, source)}"
            ) from None
        raise DataValidationError(f"Could not read {shown}: no such object{hint}") from None
    except PermissionError as exc:
        raise DataValidationError(
            f"Could not read {shown}: access denied ({_one_line(exc, source)}){hint}"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"Could not read {shown}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            f"Could not parse {shown} as {'Parquet' if parquet else 'CSV'}: "
            f"{_one_line(exc, source)}"
        ) from None
    except Exception as exc:  # network, DNS, TLS, throttling: the store failed, not the input
        if _is_not_found(exc):
            raise DataValidationError(f"Could not read {shown}: no such object{hint}") from None
        raise DataReadError(
            f"Could not read {shown}: {type(exc).__name__}: {_one_line(exc, source)}{hint}"
        ) from None


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
    """``postgres://`` and driver-less ``postgresql://`` use psycopg 3 when psycopg2 is absent
    (SQLAlchemy's default driver is psycopg2; tunelab's ``[sql]`` extra installs psycopg 3)."""
    scheme = _scheme(source) or ""
    rest = source[len(scheme) + 3 :]
    if scheme in ("postgres", "postgresql"):
        import importlib.util

        has_psycopg2 = importlib.util.find_spec("psycopg2") is not None
        has_psycopg3 = importlib.util.find_spec("psycopg") is not None
        driver = "postgresql+psycopg" if has_psycopg3 and not has_psycopg2 else "postgresql"
        return f"{driver}://{rest}"
    return source


def _read_sql(source: str, *, query: str | None, table: str | None) -> pd.DataFrame:
    shown = mask_url(source)
    if (query is None) == (table is None):
        raise DataValidationError(
            f"A SQL source needs exactly one of a table (--table) or a query (--query): {shown}"
        )
    try:
        import sqlalchemy as sa
        from sqlalchemy import exc as sa_exc
    except ImportError as exc:  # pragma: no cover - SQLAlchemy comes with Prefect
        raise DataValidationError(f"Could not read {shown}: {exc}") from None
    what = f"table {table!r}" if table is not None else "the query"
    try:
        engine = sa.create_engine(_sql_url(source), connect_args=_connect_args(source))
    except (ImportError, sa_exc.NoSuchModuleError, sa_exc.ArgumentError) as exc:
        raise DataValidationError(
            f"Could not read {shown}: {_one_line(exc, source)} (install tunelab[sql] "
            "for PostgreSQL, or the database's SQLAlchemy driver)"
        ) from None
    try:
        with engine.connect() as connection:
            if table is not None:
                schema, _, name = table.rpartition(".")
                if not sa.inspect(connection).has_table(name, schema=schema or None):
                    raise DataValidationError(f"Could not read {shown}: no table {table!r}")
                return pd.read_sql_table(name, connection, schema=schema or None)
            return pd.read_sql_query(sa.text(query), connection)  # type: ignore[arg-type]
    except DataValidationError:
        raise
    except Exception as exc:  # pandas wraps driver errors in its own DatabaseError: unwrap
        cause = _sql_cause(exc, sa_exc.DBAPIError)
        detail = _one_line(getattr(cause, "orig", None) or cause, source)
        if isinstance(cause, (sa_exc.OperationalError, sa_exc.InterfaceError, OSError)):
            raise DataReadError(f"Could not connect to {shown} to read {what}: {detail}") from None
        raise DataValidationError(f"Could not read {what} from {shown}: {detail}") from None
    finally:
        engine.dispose()


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


def _connect_args(source: str) -> dict[str, Any]:
    """A short connect timeout so a wrong host fails in seconds, not minutes."""
    base = (_scheme(source) or "").split("+", 1)[0]
    if base in ("postgres", "postgresql") and "connect_timeout" not in source:
        return {"connect_timeout": 10}
    return {}
