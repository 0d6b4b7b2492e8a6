# Demo secrets. A real project keeps this file out of git.
secret_key = "demo-secret-not-for-production"
