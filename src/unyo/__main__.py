"""`python -m unyo` is the `unyo` command."""

from unyo.cli import main

main()
