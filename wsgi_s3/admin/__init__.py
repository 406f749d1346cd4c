"""Operator commands behind `wsgi-s3` subcommands (credentials), kept out of cli.py."""
