"""Static files in production: WhiteNoise's compressed, content-hashed storage, tolerant of third-party CSS that
points at files its package does not ship (viewflow's bundled Roboto CSS names weights it leaves out)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False

    def hashed_name(self, name, content=None, filename=None):
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:  # a reference to a missing file stays as written, as a browser would request it
            return name
