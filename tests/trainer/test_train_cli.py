"""``sigpad-train --help`` speaks to its user, not to whoever adds a subcommand."""

from trainer import cli


def test_help_describes_the_tools(capsys):
    text = " ".join(cli.build_parser().format_help().split())  # as wrapped for any width
    assert "score a verifier" in text and "train and export" in text
    assert "add_arguments" not in text and "one subcommand per module" not in text
