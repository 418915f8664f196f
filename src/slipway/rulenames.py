"""Every lint rule name slipway knows, so that a misspelt name in ``lint_rules`` or
``--lint-rule`` is an error instead of a rule silently left on.

Nothing heavy imported: settings are validated with it before anything heavy loads.
"""

from __future__ import annotations

from collections.abc import Iterable

# squawk-cli 2.x (PostgreSQL), as its --exclude option accepts them.
SQUAWK_RULES = frozenset(
    [
        "adding-field-with-default",
        "adding-foreign-key-constraint",
        "adding-not-nullable-field",
        "adding-required-field",
        "adding-serial-primary-key-field",
        "ban-add-column",
        "ban-add-composite-attribute",
        "ban-add-enum-value",
        "ban-alter-database-options",
        "ban-alter-domain-with-add-constraint",
        "ban-alter-extension",
        "ban-alter-function-options",
        "ban-alter-generated-expression",
        "ban-alter-identity",
        "ban-alter-policy-condition",
        "ban-alter-policy-roles",
        "ban-alter-role-options",
        "ban-alter-row-level-security",
        "ban-alter-sequence-values",
        "ban-alter-system-options",
        "ban-alter-view-options",
        "ban-char-field",
        "ban-concurrent-index-creation-in-transaction",
        "ban-create-domain-with-constraint",
        "ban-create-policy",
        "ban-detach-inheritance",
        "ban-disable-trigger",
        "ban-drop-column",
        "ban-drop-constraint",
        "ban-drop-database",
        "ban-drop-domain",
        "ban-drop-extension",
        "ban-drop-function",
        "ban-drop-generated-expression",
        "ban-drop-index",
        "ban-drop-not-null",
        "ban-drop-policy",
        "ban-drop-schema",
        "ban-drop-sequence",
        "ban-drop-table",
        "ban-drop-type",
        "ban-drop-view",
        "ban-new-write-restriction",
        "ban-replace-view-function",
        "ban-replica-identity",
        "ban-revoke",
        "ban-set-default",
        "ban-set-schema",
        "ban-truncate-cascade",
        "ban-uncommitted-transaction",
        "changing-column-type",
        "constraint-missing-not-valid",
        "disallowed-unique-constraint",
        "identifier-too-long",
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-repack",
        "prefer-robust-stmts",
        "prefer-text-field",
        "prefer-timestamp-tz",
        "renaming-column",
        "renaming-object",
        "renaming-table",
        "require-concurrent-index-creation",
        "require-concurrent-index-deletion",
        "require-concurrent-partition-detach",
        "require-concurrent-reindex",
        "require-enum-value-ordering",
        "require-lock-timeout",
        "require-statement-timeout",
        "require-table-schema",
        "require-timeout-settings",
        "syntax-error",
        "transaction-nesting",
        "unused-ignore",
    ]
)

# slipway's own: MySQL/MariaDB and SQLite (slipway.sqlrules) and every dialect (slipway.lint).
OWN_RULES = frozenset(
    [
        "adding-required-field",
        "ban-drop-column",
        "ban-drop-table",
        "changing-column-type",
        "irreversible-data-migration",
        "irreversible-downgrade",
        "rename-column-unsupported",
        "renaming-column",
        "renaming-table",
        "require-online-index-creation",
        "require-online-index-deletion",
        "table-rebuild",
        "unrenderable",
        "unrenderable-downgrade",
    ]
)

KNOWN_RULES = SQUAWK_RULES | OWN_RULES


def unknown(names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are no rule, sorted."""
    return sorted(n for n in names if n not in KNOWN_RULES)
