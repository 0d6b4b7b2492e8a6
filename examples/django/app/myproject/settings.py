"""Base settings; each host's `local_settings.py` (rendered by deployer from
`deployment/templates/local_settings.py`) imports these and overrides them."""

DEBUG = True
SECRET_KEY = "not-a-secret"
STATIC_URL = "/static/"
STATIC_ROOT = "static_media"
ALLOWED_HOSTS = ["localhost"]
DATABASES = {}
CACHES = {}
