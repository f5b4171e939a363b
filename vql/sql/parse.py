"""Parse VQL text into sqlglot syntax trees, turning sqlglot's errors into VQL ParseErrors."""

from __future__ import annotations

import functools
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
    found = [_transaction_words(tree) for tree in trees
             if tree is not None and not isinstance(tree, exp.Semicolon)]  # a comment alone
    for tree in found:  # what node positions point into (see projection_texts)
        tree.meta[SOURCE] = sql
    return found


SOURCE = "vql_source"  # meta key of a parsed statement: the text it was parsed from


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


# Where a SELECT list ends, when no parenthesis is open.
_LIST_ENDS = frozenset({
    TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.HAVING, TokenType.ORDER_BY,
    TokenType.LIMIT, TokenType.QUALIFY, TokenType.WINDOW, TokenType.UNION, TokenType.EXCEPT,
    TokenType.INTERSECT, TokenType.OFFSET, TokenType.INTO, TokenType.SEMICOLON,
    TokenType.FETCH})
_OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


def projection_texts(select: exp.Select, source: str) -> list[str] | None:
    """Each projection of ``select`` as written in ``source``, the text it was parsed from
    (``len(x)``, which sqlglot prints as ``LENGTH(x)``); None when that cannot be told (a
    SELECT list without positions, such as one read from a view)."""
    starts = [int(n.meta["start"]) for e in select.expressions for n in e.walk()
              if "start" in n.meta]
    tokens = _tokens(source) if source and starts else None
    if tokens is None:
        return None
    first = next((i for i, tok in enumerate(tokens) if tok.start == min(starts)), None)
    begin = _list_start(tokens, first) if first is not None else None
    if begin is None:
        return None
    pieces: list[list[Token]] = [[]]
    depth = 0
    for index, token in enumerate(tokens[begin:], start=begin):
        depth += (token.token_type in _OPENING) - (token.token_type in _CLOSING)
        if depth < 0 or depth == 0 and (token.token_type in _LIST_ENDS
                                        or _video_clause(tokens, index)):
            break
        if depth == 0 and token.token_type == TokenType.COMMA:
            pieces.append([])
        else:
            pieces[-1].append(token)
    if len(pieces) != len(select.expressions) or not all(pieces):
        return None
    return [source[piece[0].start:piece[-1].end + 1] for piece in pieces]


def query_text(create: exp.Expr, source: str) -> str | None:
    """The query of ``CREATE ... name AS <query>`` as written in ``source`` (up to the end of
    the statement); None when that cannot be told."""
    names = [int(n.meta["start"]) for n in create.this.walk() if "start" in n.meta]
    tokens = _tokens(source) if source and names else None
    if tokens is None:
        return None
    start = next((i for i, tok in enumerate(tokens) if tok.start == min(names)), len(tokens))
    depth, after = 0, len(tokens)
    for index in range(start, len(tokens)):
        depth += (tokens[index].token_type in _OPENING) - (tokens[index].token_type in _CLOSING)
        if depth == 0 and tokens[index].token_type == TokenType.ALIAS:
            after = index + 1
            break
    body = []
    for token in tokens[after:]:
        if token.token_type == TokenType.SEMICOLON:
            break
        body.append(token)
    return source[body[0].start:body[-1].end + 1] if body else None


@functools.lru_cache(maxsize=4)
def _tokens(source: str) -> list[Token] | None:
    """The tokens of a statement's text (cached: each SELECT in it asks again)."""
    try:
        return DIALECT.tokenize(source)
    except TokenError:
        return None


def _video_clause(tokens: list[Token], index: int) -> bool:
    """VQL's SAMPLE n FPS or WITH LATENCY/ACCURACY/COST starts at this token."""
    token, following = tokens[index], tokens[index + 1] if index + 1 < len(tokens) else None
    return token.token_type == TokenType.WITH or token.text.upper() == "SAMPLE" and \
        following is not None and following.token_type == TokenType.NUMBER


def _list_start(tokens: list[Token], index: int) -> int | None:
    """The first token of the SELECT list that token ``index`` is in (after SELECT
    [DISTINCT [ON (...)] | ALL])."""
    depth = 0
    while index > 0:
        index -= 1
        token = tokens[index]
        depth += (token.token_type in _CLOSING) - (token.token_type in _OPENING)
        if depth < 0:
            return None
        if depth == 0 and token.token_type == TokenType.SELECT:
            break
    else:
        return None
    index += 1
    if index < len(tokens) and tokens[index].token_type in (TokenType.DISTINCT, TokenType.ALL):
        index += 1
        if index + 1 < len(tokens) and tokens[index].token_type == TokenType.ON \
                and tokens[index + 1].token_type == TokenType.L_PAREN:
            depth, index = 1, index + 2
            while index < len(tokens) and depth:
                depth += (tokens[index].token_type in _OPENING) - \
                    (tokens[index].token_type in _CLOSING)
                index += 1
    return index


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
