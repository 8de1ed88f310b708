"""`python -m ai_connector.cli` runs the CLI (same as the `ai-connector` script)."""

from ai_connector.cli import main

main()
