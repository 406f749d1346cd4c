"""Background loops that run beside the request workers, one process each, forked by the gunicorn master."""
