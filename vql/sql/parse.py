"""Parse VQL text into sqlglot syntax trees, turning sqlglot's errors into VQL ParseErrors."""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from vql.errors import ParseError, Position
from vql.sql.dialect import VQL

# sqlglot logs a warning when it falls back to a raw Command for syntax it does not model;
# such statements are handed to DuckDB verbatim, so the warning is noise for VQL users.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECT = VQL()


def parse(sql: str) -> list[exp.Expr]:
    """All statements in ``sql`` (empty statements dropped)."""
    try:
        trees = DIALECT.parse(sql)
    except SqlglotParseError as error:
        raise (_misspelled_statement(sql) or _convert(error, sql)) from error
    except TokenError as error:
        raise ParseError(f"cannot tokenize the statement: {error}", sql=sql) from error
    return [_transaction_words(tree) for tree in trees
            if tree is not None and not isinstance(tree, exp.Semicolon)]  # a comment alone


# DuckDB's (and PostgreSQL's) other words for ending or starting a transaction, which sqlglot
# reads as a column (ABORT) or a bare END; the engine must see them as what they do.
_TRANSACTION_WORDS: dict[str, type[exp.Expr]] = {
    "END": exp.Commit, "END TRANSACTION": exp.Commit, "END WORK": exp.Commit,
    "ABORT": exp.Rollback, "ABORT TRANSACTION": exp.Rollback, "ABORT WORK": exp.Rollback,
    "START TRANSACTION": exp.Transaction,
}


def _transaction_words(tree: exp.Expr) -> exp.Expr:
    if isinstance(tree, exp.EndStatement):
        return exp.Commit()
    words = ""
    if isinstance(tree, exp.Column) and not tree.table:
        words = tree.name
    elif isinstance(tree, exp.Alias) and isinstance(tree.this, exp.Column) \
            and not tree.this.table:
        words = f"{tree.this.name} {tree.alias}"
    kind = _TRANSACTION_WORDS.get(words.upper())
    return kind() if kind is not None else tree


def parse_one(sql: str) -> exp.Expr:
    """Exactly one statement."""
    trees = parse(sql)
    if len(trees) != 1:
        raise ParseError(f"expected one statement, found {len(trees)}", sql=sql)
    return trees[0]


def parse_expression(text: str) -> exp.Expr:
    """One scalar expression (a function body, a predicate)."""
    select = parse_one(f"SELECT {text}")
    if not isinstance(select, exp.Select) or len(select.selects) != 1:
        raise ParseError(f"expected one expression, got {text!r}", sql=text)
    return select.selects[0]


def to_sql(tree: exp.Expr, dialect: str = "vql") -> str:
    """Generate text for a tree, in VQL (default) or plain DuckDB SQL."""
    # normalize_functions=False keeps user function names as written (detect, not DETECT).
    return tree.sql(dialect=DIALECT if dialect == "vql" else dialect, normalize_functions=False)


def split_statements(sql: str) -> list[str]:
    """The text of each ';'-separated statement, respecting quotes and comments."""
    try:
        tokens = DIALECT.tokenize(sql)
    except TokenError as error:
        raise ParseError(f"cannot tokenize the statement: {error}", sql=sql) from error
    statements, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append(sql[start:token.start].strip())
            start = token.end + 1
    statements.append(sql[start:].strip())
    return [s for s in statements if s]


def is_complete(sql: str) -> bool:
    """Whether ``sql`` ends with a ';' outside quotes and comments (the shell's end of input)."""
    try:
        tokens: list[Token] = DIALECT.tokenize(sql)
    except TokenError:
        return False  # an unterminated string: keep reading lines
    return bool(tokens) and tokens[-1].token_type == TokenType.SEMICOLON


def number_placeholders(sql: str) -> tuple[str, int]:
    """Rewrite each qmark ``?`` as ``$1``, ``$2``, ... in order of appearance.

    Only the markers are renamed, never replaced by values: numbered markers stay correct when
    the binder moves, copies or drops parts of the statement. Returns the text and the count.
    """
    try:
        tokens = DIALECT.tokenize(sql)
    except TokenError as error:
        raise ParseError(f"cannot tokenize the statement: {error}", sql=sql) from error
    # '?::INT' reaches the tokenizer as one '?::' operator: a marker and a cast here.
    marks = [tok for tok in tokens if (tok.token_type == TokenType.PLACEHOLDER and tok.text == "?")
             or tok.token_type == TokenType.QDCOLON]
    if not marks:
        return sql, 0
    pieces, last = [], 0
    for number, token in enumerate(marks, start=1):
        pieces.append(sql[last:token.start])
        pieces.append(f"${number}" + ("::" if token.token_type == TokenType.QDCOLON else ""))
        last = token.end + 1
    pieces.append(sql[last:])
    return "".join(pieces), len(marks)


# The words a statement starts with (VQL's and DuckDB's), for 'SELEC ...' -> 'SELECT'.
STATEMENT_WORDS = (
    "SELECT", "WITH", "FROM", "VALUES", "LOAD", "CREATE", "DROP", "SHOW", "DESCRIBE",
    "EXPLAIN", "RENDER", "INSERT", "UPDATE", "DELETE", "BEGIN", "COMMIT", "ROLLBACK",
    "ANALYZE", "CLEAR", "SUMMARIZE", "PRAGMA", "SET", "COPY", "ATTACH", "DETACH", "ALTER",
    "EXPORT", "IMPORT", "INSTALL", "USE", "CHECKPOINT", "VACUUM", "CALL", "PIVOT", "UNPIVOT",
    "END", "ABORT", "START", "RESET", "TRUNCATE")


def _misspelled_statement(sql: str) -> ParseError | None:
    """A statement whose first word is close to a statement keyword but is none ('SELEC'):
    the error points at that word and names the keyword, rather than at where the parser
    gave up further on."""
    import difflib

    try:
        tokens = DIALECT.tokenize(sql)
    except TokenError:
        return None
    starts = [0] + [i + 1 for i, tok in enumerate(tokens) if tok.token_type == TokenType.SEMICOLON]
    for index in starts:
        if index >= len(tokens) or tokens[index].token_type != TokenType.VAR:
            continue
        token = tokens[index]
        word = token.text.upper()
        match = difflib.get_close_matches(word, STATEMENT_WORDS, n=1, cutoff=0.75)
        if word in STATEMENT_WORDS or not match:
            continue
        line = sql.count("\n", 0, token.start) + 1
        column = token.start - (sql.rfind("\n", 0, token.start) + 1) + 1
        return ParseError(f"unknown statement {token.text!r} (did you mean {match[0]}?)",
                          sql=sql, position=Position(line, column, len(token.text)))
    return None


def _convert(error: SqlglotParseError, sql: str) -> ParseError:
    detail = error.errors[0] if error.errors else {}
    description = str(detail.get("description") or error).split(". Line")[0]
    text = str(detail.get("highlight") or "")
    line, column = detail.get("line"), detail.get("col")
    position = None
    if isinstance(line, int) and isinstance(column, int):
        # sqlglot reports the column of the token's last character; point at its first.
        position = Position(line, max(column - len(text) + 1, 1), max(len(text), 1))
    message = f"syntax error: {description}" + (f" at {text!r}" if text else "")
    return ParseError(message, sql=sql, position=position, text=text)


__all__ = ["parse", "parse_one", "to_sql", "split_statements", "is_complete", "sqlglot"]
