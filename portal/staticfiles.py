"""The production static files storage: WhiteNoise's compressed manifest storage, its URLs remembered.

`{% static %}` asks the storage for a file's hashed URL; with the manifest storage that is a
manifest lookup plus name cleaning, quoting and URL joining, about 50 µs each, and every page
names seven files in base.html alone. The manifest does not change while a process runs (a new
build is a new deployment, and new processes), so each name's URL is worked out once.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class PortalStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name, force=False):
        if force:
            return super().url(name, force)
        try:
            return self._urls[name]
        except KeyError:
            url = super().url(name)  # an unknown name raises here, every time, as before
            self._urls[name] = url
            return url

    def post_process(self, *args, **kwargs):
        # collectstatic (bin/build_static.sh) rewrites the manifest: forget what it said before.
        self._urls.clear()
        yield from super().post_process(*args, **kwargs)
        self._urls.clear()
