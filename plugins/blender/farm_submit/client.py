"""A client for the render farm coordinator's HTTP API, on the standard
library alone (``urllib.request``), so it runs in any Blender's Python.

Every request carries ``Authorization: Bearer <token>``. A refusal of the
coordinator (``{"error": {"code", "message"}}`` with a 4xx/5xx status)
becomes an :class:`ApiError` holding the status, the code and the server's
message verbatim; a coordinator that cannot be reached is an
:class:`ApiError` with status 0.

Files are hashed with BLAKE3 (the coordinator names blobs by it): the
compiled ``blake3`` module when it is installed, else the pure Python one
bundled with the add-on.
"""

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request

try:
    import blake3 as _blake3
except ImportError:  # Blender's Python: fall back to the bundled one.
    _blake3 = None

from . import blake3_py

# Bytes read from a file at a time for hashing and for sending; the cancel
# flag is checked between pieces. Hashing feeds 4 MiB (a whole batch of the
# pure hasher's NumPy lanes), or 256 KiB on the pure hasher's int back end
# (under 1 MB/s), so that a cancel is taken within a fraction of a second.
HASH_PIECE = 4 * 1024 * 1024
SLOW_HASH_PIECE = 256 * 1024
SEND_PIECE = 1024 * 1024

# Seconds to wait for the coordinator to answer one request.
TIMEOUT = 120


class ApiError(Exception):
    """A request the coordinator refused, or could not be sent.

    ``status`` is the HTTP status (0 when there was no answer), ``code``
    the coordinator's stable error code, ``message`` its message verbatim.
    """

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self):
        return self.message


class Cancelled(Exception):
    """The user cancelled the submission."""

    def __init__(self, message="Cancelled: nothing more was uploaded"):
        super().__init__(message)


def hasher():
    """A new BLAKE3 hasher (``update``, ``hexdigest``)."""
    if _blake3 is not None:
        return _blake3.blake3()
    return blake3_py.Hasher()


def hash_file(path, progress=None, cancelled=None):
    """BLAKE3 of the file at ``path``: ``(lowercase hex, size in bytes)``.

    ``progress(n)`` is called with the bytes hashed after each piece;
    ``cancelled()`` is checked between pieces (raises :class:`Cancelled`).
    """
    state = hasher()
    fast = _blake3 is not None or blake3_py.numpy is not None
    piece_size = HASH_PIECE if fast else SLOW_HASH_PIECE
    size = 0
    with open(path, "rb") as file:
        while True:
            if cancelled is not None and cancelled():
                raise Cancelled()
            piece = file.read(piece_size)
            if not piece:
                break
            state.update(piece)
            size += len(piece)
            if progress is not None:
                progress(len(piece))
    return state.hexdigest(), size


def _error_from_http(error):
    """The :class:`ApiError` for an HTTP error answer."""
    body = error.read()
    try:
        inner = json.loads(body.decode("utf-8"))["error"]
        return ApiError(error.code, inner["code"], inner["message"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()[:300]
        return ApiError(
            error.code,
            "http_%d" % error.code,
            "the coordinator answered %d %s%s"
            % (error.code, error.reason, ": " + text if text else ""),
        )


class FarmClient:
    """The coordinator's API at ``url`` (``http://host:port``), used with
    the API ``token`` (a submitter's, for submitting)."""

    def __init__(self, url, token, timeout=TIMEOUT):
        self.url = url.strip().rstrip("/")
        self.token = token.strip()
        self.timeout = timeout
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ApiError(
                0,
                "bad_url",
                "the coordinator URL %r is not an http:// or https:// address; "
                "set it in the add-on's preferences" % url,
            )

    def job_url(self, job_id):
        """The API address of job ``job_id``."""
        return "%s/api/v1/jobs/%s" % (self.url, job_id)

    def _request(self, method, path, consume, data=None, headers=None):
        """Send a request and hand the response to ``consume(response)``;
        its result, or :class:`ApiError` for a refusal or a failed
        connection.

        The token goes in an unredirected header: a redirect (a frame
        download) leads to a pre-signed address that must not get it.
        """
        target = path if "://" in path else self.url + path
        request = urllib.request.Request(target, data=data, method=method)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        request.add_unredirected_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return consume(response)
        except urllib.error.HTTPError as error:
            raise _error_from_http(error) from None
        except urllib.error.URLError as error:
            raise ApiError(
                0,
                "unreachable",
                "cannot reach the coordinator at %s: %s; check the URL in the "
                "add-on's preferences and that the coordinator is running"
                % (self.url, error.reason),
            ) from None
        except (OSError, http.client.HTTPException) as error:
            raise ApiError(
                0,
                "connection_failed",
                "the connection to the coordinator at %s failed during %s %s: %s"
                % (self.url, method, path, error or type(error).__name__),
            ) from None

    def _json(self, method, path, body=None, data=None, headers=None):
        """A request with a JSON ``body`` (or raw ``data``) and its decoded
        JSON answer."""
        headers = dict(headers or {}, Accept="application/json")
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        raw = self._request(method, path, lambda r: r.read(), data, headers)
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            raise ApiError(
                0,
                "bad_answer",
                "the coordinator at %s answered %s %s with something that is "
                "not JSON" % (self.url, method, path),
            ) from None

    def farm(self):
        """``GET /api/v1/farm``: the renderers, regions and node classes
        of the farm's enrolled workers."""
        return self._json("GET", "/api/v1/farm")

    def validate_job(self, fields):
        """``POST /api/v1/jobs/validate``: check job fields (no scene)
        before anything is uploaded; ``{"frame_count", "tasks"}``."""
        return self._json("POST", "/api/v1/jobs/validate", fields)

    def create_bundle(self, manifest):
        """``POST /api/v1/bundles``: describe a bundle; the answer lists the
        blobs still ``missing``."""
        return self._json("POST", "/api/v1/bundles", manifest)

    def estimate_job(self, fields):
        """``POST /api/v1/jobs/estimate``: what the job of ``fields`` (with
        its ``bundle`` or ``scene``, or neither) would take and cost on
        each node class; nothing is created."""
        return self._json("POST", "/api/v1/jobs/estimate", fields)

    def create_job(self, fields):
        """``POST /api/v1/jobs``: the new job's summary."""
        return self._json("POST", "/api/v1/jobs", fields)

    def job(self, job_id):
        """``GET /api/v1/jobs/{id}``: the job and its frames."""
        return self._json("GET", "/api/v1/jobs/%s" % job_id)

    def upload_blob(self, blob_hash, path, progress=None, cancelled=None):
        """``PUT /api/v1/blobs/{hash}`` with the bytes of the file at
        ``path``, streamed with its Content-Length.

        ``progress(n)`` is called after each piece sent; ``cancelled()`` is
        checked before each piece: a cancelled upload raises
        :class:`Cancelled` and the coordinator keeps nothing of it.
        """
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size

            def pieces():
                while True:
                    if cancelled is not None and cancelled():
                        raise Cancelled()
                    piece = file.read(SEND_PIECE)
                    if not piece:
                        return
                    yield piece
                    if progress is not None:
                        progress(len(piece))

            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(size),
            }
            url = "/api/v1/blobs/%s" % blob_hash
            return self._json("PUT", url, data=pieces(), headers=headers)

    def upload_missing(self, missing, sources, progress=None, cancelled=None):
        """Upload each blob of a bundle answer's ``missing`` list from its
        local file (``sources``: hash -> path).

        ``progress(done, total, paths)`` follows the bytes sent of all of
        them together; ``cancelled()`` is checked between blobs and pieces.
        Returns the blobs sent, as the ``missing`` entries.
        """
        total = sum(blob["bytes"] for blob in missing)
        done = 0
        sent = []
        for blob in missing:
            if cancelled is not None and cancelled():
                raise Cancelled()
            source = sources.get(blob["hash"])
            if source is None:
                raise ApiError(
                    0,
                    "unknown_blob",
                    "the coordinator asked for blob %s (%s), which is not in "
                    "this bundle" % (blob["hash"], ", ".join(blob["paths"])),
                )

            def advance(n, paths=blob["paths"]):
                nonlocal done
                done += n
                if progress is not None:
                    progress(done, total, paths)

            if progress is not None:
                progress(done, total, blob["paths"])
            self.upload_blob(blob["hash"], source, advance, cancelled)
            sent.append(blob)
        return sent

    def download(self, path, destination):
        """Fetch ``path`` (an API path such as a frame's ``download``,
        following its redirect) into the file ``destination``; the bytes
        written."""

        def save(response):
            written = 0
            with open(destination, "wb") as out:
                while True:
                    piece = response.read(SEND_PIECE)
                    if not piece:
                        return written
                    out.write(piece)
                    written += len(piece)

        return self._request("GET", path, save)
