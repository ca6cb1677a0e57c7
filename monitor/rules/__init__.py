"""Rules: the query language (:mod:`.query`) and rule files (:mod:`.files`)."""

from monitor.rules.files import (
    check_rule_files,
    dump_rule_file,
    expand_rule_paths,
    load_rule_file,
)
from monitor.rules.query import (
    Query,
    Term,
    Word,
    expand_groups,
    parse_group_entry,
    parse_query,
)

__all__ = [
    "Query",
    "Term",
    "Word",
    "check_rule_files",
    "dump_rule_file",
    "expand_groups",
    "expand_rule_paths",
    "load_rule_file",
    "parse_group_entry",
    "parse_query",
]
