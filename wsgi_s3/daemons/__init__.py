"""Background loops: each has run_forever(stop_fd), forked by the gunicorn master (wsgi_s3/forked.py)."""
