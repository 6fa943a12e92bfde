#!/bin/sh
# The production static build, as the Dockerfile runs it and the production smoke test
# (tests/test_production.py) runs it: DEBUG off, so the storage is WhiteNoise's
# CompressedManifestStaticFilesStorage. It hashes every file name (far-future caching is
# then safe), rewrites the url()/sourceMappingURL references inside CSS and JS, writes
# staticfiles.json, and stores a .gz (and a .br, Brotli being installed) beside each file.
# The settings need secrets to load; the caller passes them (throwaway values at build time).
# STATIC_ROOT may name another folder; PYTHON may name the interpreter.
set -eu
cd "$(dirname "$0")/.."
DEBUG=false exec "${PYTHON:-python}" manage.py collectstatic --noinput --clear --verbosity 1
