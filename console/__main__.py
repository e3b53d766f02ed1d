"""`python -m console` is the `console` command."""

from console.cli import main

main()
