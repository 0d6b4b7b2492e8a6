# Rendered by deployer on every web and worker host, as FabulAWS's
# `update_local_settings` did: the names below are FabulAWS's, so a FabulAWS
# project's own template renders unchanged. Secrets appear here on the host
# only; this file is written 0600.
from myproject.settings import *  # noqa: F401,F403

DEBUG = False
SECRET_KEY = "{{ secret_key }}"

# Where this server runs: for logs and error e-mails.
DEPLOYMENT_LABELS = {
    "deployment": "{{ deployment_tag }}",
    "environment": "{{ environment }}",
    "role": "{{ current_role }}",
    "changeset": "{{ current_changeset }}",
}

# Every database the app talks to goes through pgbouncer on this host.
DATABASES = {
{%- for server in all_databases %}
    "{{ server.database_key }}": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "{{ server.database_local_name }}",
        "USER": "{{ database_user }}",
        "PASSWORD": "{{ database_password }}",
        "HOST": "localhost",
        "PORT": "{{ pgbouncer_port }}",
        # stunnel carries pgbouncer's connection to {{ server.internal_ip }} on {{ server.stunnel_port }}
    },
{%- endfor %}
}
# Reads are spread over the replicas (the primary when there are none).
DATABASE_POOL = {
{%- for server in slave_databases %}
    "{{ server.database_key }}": 1,
{%- endfor %}
}
MASTER_DATABASE = "{{ master_database.database_key }}"

MEDIA_ROOT = "{{ media_root }}"
STATIC_ROOT = "{{ static_root }}"

EMAIL_HOST_PASSWORD = "{{ smtp_password }}"
EMAIL_SUBJECT_PREFIX = "[{{ deployment_tag }} {{ environment }}] "

# memcached and Redis on the cache server; the cache version changes with
# every deploy, so no release reads another's cached pages.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": "{{ cache_server.internal_ip }}:11211",
        "VERSION": "{{ current_changeset }}",
    },
    "session": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://{{ cache_server.internal_ip }}:6379/3",
    },
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "session"

CELERY_BROKER_URL = "amqp://{{ deploy_user }}:{{ broker_password }}@{{ cache_server.internal_ip }}:5672/{{ vhost }}"
CELERY_RESULT_BACKEND = "redis://{{ cache_server.internal_ip }}:6379/2"

AWS_STORAGE_BUCKET_NAME = "{{ staticfiles_s3_bucket }}"
AWS_SECRET_ACCESS_KEY = "{{ s3_secret }}"

ALLOWED_HOSTS = [{% for name in allowed_hosts %}"{{ name }}", {% endfor %}]

# Not FabulAWS's: where this example's stand-in app listens and keeps its
# database. Behind nginx a real app binds 127.0.0.1:{{ server_port }}; the
# example binds the host's own address so hosts on one machine do not collide.
BIND = "{{ host }}:{{ server_port }}"
DEMO_DATABASE = "{{ shared_dir }}/db/db.sqlite3"
