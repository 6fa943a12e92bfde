#!/bin/sh
# Copies the front-end libraries from node_modules/ into static/vendor/ (run after `npm ci`).
# `make assets` and the Dockerfile both run this one script, so the files that `make run`
# serves and the files the production image collects are the same.
#
# A minified file that names a source map ("sourceMappingURL=x.map") gets its map beside it:
# the manifest storage of `collectstatic` follows that reference and stops with
# MissingFileError when the map is absent, and every page then answers 500.
set -eu
cd "$(dirname "$0")/.."

copy() {  # copy SOURCE_FILE DEST_DIR
    mkdir -p "$2"
    cp "$1" "$2/"
    map=$(sed -n 's/.*sourceMappingURL=\([^ *]*\).*/\1/p' "$1" | tail -n 1)
    if [ -n "$map" ]; then
        cp "$(dirname "$1")/$map" "$2/"
    fi
}

rm -rf static/vendor
copy node_modules/bootstrap/dist/css/bootstrap.min.css static/vendor/bootstrap
copy node_modules/bootstrap/dist/js/bootstrap.bundle.min.js static/vendor/bootstrap
copy node_modules/echarts/dist/echarts.min.js static/vendor/echarts
copy node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx
