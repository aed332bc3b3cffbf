"""Production WSGI entry point: ``gunicorn -w 4 -b 0.0.0.0:8000 'gridops.wsgi:app'``.

Configuration comes from the environment (GRIDOPS_DATABASE_URL, SECRET_KEY, ...; see the
README). Importing this module only builds the app: migrations (`gridops db upgrade`) and
the scheduler are run separately, once, never by each web worker.
"""

from gridops.app import create_app

app = create_app()
