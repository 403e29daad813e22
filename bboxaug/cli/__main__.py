"""`python -m bboxaug.cli`: the `bboxaug` command."""

from bboxaug.cli.main import main

main()
