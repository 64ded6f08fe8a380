"""`kmsgw` command groups, one module each (see ``gateway/cli.py``); ``_common`` holds shared helpers."""
