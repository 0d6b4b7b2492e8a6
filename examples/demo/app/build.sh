#!/bin/sh
# The sample app's build: render a page from the committed version file.
set -eu
mkdir -p public
printf '<h1>Hello from release %s, version %s</h1>\n' "$DEPLOYER_RELEASE" "$(cat VERSION)" > public/index.html
