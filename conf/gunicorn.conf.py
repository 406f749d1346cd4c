# gunicorn configuration for wsgi-s3 services; `wsgi-s3 serve --gunicorn-config conf/gunicorn.conf.py`.
# The defaults and hooks live in the package so an installed wsgi-s3 has them too; override below.
from wsgi_s3.gunicorn_conf import *  # noqa: F401,F403

# worker_connections = 2000
# keepalive = 75
