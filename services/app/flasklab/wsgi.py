"""The WSGI entry point every server imports: ``flasklab.wsgi:app``."""

from flasklab import create_app

app = create_app()
