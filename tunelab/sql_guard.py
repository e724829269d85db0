"""Only queries reach a database: ``--query 'DROP TABLE t'`` is refused before it is sent.

tunelab only reads. The connection is also opened read-only where the driver allows it (see
:mod:`tunelab.sources`); this check is what gives the user a clear message, and the only
guard on databases whose driver has no read-only mode. A query is one ``SELECT`` (or
``WITH ... SELECT``, ``VALUES``, a parenthesised ``SELECT``) with no data-changing keyword
anywhere in it: ``WITH x AS (DELETE ... RETURNING *) SELECT ...`` changes data too.
sqlparse (when installed) tells keywords from names; otherwise string literals, quoted names
and comments are removed before the words are checked.
"""

from __future__ import annotations

import re

from tunelab.errors import DataValidationError

#: Words that change data or schema, or run code, wherever they appear in a statement.
#: ``INTO`` covers ``SELECT ... INTO new_table``; ``UPDATE`` covers ``SELECT ... FOR UPDATE``.
WRITE_KEYWORDS = frozenset(
    {
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "UPSERT",
        "INTO",
        "DROP",
        "CREATE",
        "ALTER",
        "TRUNCATE",
        "RENAME",
        "GRANT",
        "REVOKE",
        "COPY",
        "CALL",
        "EXEC",
        "EXECUTE",
        "DO",
        "LOCK",
        "VACUUM",
        "ANALYZE",
        "REINDEX",
        "CLUSTER",
        "ATTACH",
        "DETACH",
        "PRAGMA",
        "SET",
        "RESET",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "LOAD",
        "IMPORT",
        "EXPORT",
        "INSTALL",
        "CHECKPOINT",
        "LISTEN",
        "NOTIFY",
        "PREPARE",
        "DEALLOCATE",
        "DISCARD",
        "COMMENT",
        "SECURITY",
        "REFRESH",
    }  # fmt: skip
)
#: How a query may begin.
QUERY_STARTS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})

_NOISE = re.compile(
    r"""'(?:[^']|'')*'        # 'string literal'
      | "(?:[^"]|"")*"        # "quoted name"
      | `[^`]*`               # `quoted name`
      | \[[^\]]*\]            # [quoted name]
      | --[^\n]*              # -- comment
      | /\*.*?\*/             # /* comment */
      | \$(\w*)\$.*?\$\1\$    # $$dollar-quoted$$ (PostgreSQL)
    """,
    re.VERBOSE | re.DOTALL,
)


def check_query(query: str) -> None:
    """Raises :class:`DataValidationError` unless ``query`` is a single read-only query."""
    if not isinstance(query, str) or not query.strip():
        raise DataValidationError("The SQL query is empty; give a SELECT statement")
    try:
        words, statements = _sqlparse_words(query)
    except ImportError:
        words, statements = _plain_words(query)
    if statements != 1:
        raise DataValidationError(
            f"--query must be a single SELECT statement, not {statements} statements; tunelab "
            "only reads"
        )
    first = words[0] if words else ""
    written = sorted(WRITE_KEYWORDS.intersection(words))
    if first not in QUERY_STARTS or written:
        opening = (_plain_words(query)[0] or ["?"])[0]
        what = ", ".join(written) if written and first in QUERY_STARTS else opening
        raise DataValidationError(
            f"--query must be a read-only SELECT (or WITH ... SELECT); refused a statement "
            f"with {what}: tunelab only reads from databases"
        )


def _sqlparse_words(query: str) -> tuple[list[str], int]:
    """Upper-case keywords in order (names, strings and comments are not keywords)."""
    import sqlparse
    from sqlparse import tokens

    parsed = [s for s in sqlparse.parse(query) if s.token_first(skip_cm=True, skip_ws=True)]
    words = [
        word
        for statement in parsed[:1]
        for t in statement.flatten()
        if t.ttype in tokens.Keyword
        for word in t.normalized.upper().split()
    ]
    return words, len(parsed)


def _plain_words(query: str) -> tuple[list[str], int]:
    """The same without sqlparse: every word outside literals, quoted names and comments."""
    text = _NOISE.sub(" ", query)
    statements = [part for part in text.split(";") if part.strip()]
    words = re.findall(r"[A-Za-z_]+", statements[0]) if statements else []
    return [w.upper() for w in words], len(statements)
