"""The command line: the `bboxaug` group (`main`), the options the commands share, and one module per command
group. Thin: each command parses its options, calls its `bboxaug.commands` function and prints the summary."""
