"""cmkctl: declared, reviewed, repeatable customer-managed encryption keys."""

__version__ = "0.1.0"
