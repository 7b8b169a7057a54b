"""A small stand-in for the coordinator's HTTP API, for the add-on's tests
(stdlib ``http.server`` in a thread): the routes the add-on uses, the same
error shape (``{"error": {"code", "message"}}``), bearer tokens, blobs
checked against their BLAKE3 name, and a record of every request and
upload so tests can tell what was sent.
"""

import json
import os
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from farm_submit.client import hasher  # noqa: E402

FRAME_SPEC = re.compile(r"^\d+(-\d+(x\d+)?)?(,\d+(-\d+(x\d+)?)?)*$")


def frame_count(spec):
    """Frames of a spec the fake accepts (``1-10x2,15``)."""
    count = 0
    for part in spec.split(","):
        match = re.match(r"^(\d+)(?:-(\d+)(?:x(\d+))?)?$", part)
        first = int(match.group(1))
        last = int(match.group(2) or first)
        step = int(match.group(3) or 1)
        count += abs(last - first) // step + 1
    return count


class Refusal(Exception):
    """An error answer."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeFarm:
    """The fake coordinator; ``url`` once started. ``blobs`` maps hash to
    bytes stored; ``uploads`` lists the hashes PUT successfully,
    ``interrupted`` counts uploads that broke off; ``requests`` lists
    ``(method, path)``; ``jobs`` maps id to summary; ``blob_paths`` maps
    a hash to the bundle paths it was listed at.

    Estimates: ``history`` maps a node class to its render seconds per
    frame ``(low, typical, high)``, ``workers`` to its workers online (1
    unless set), ``price`` to micro-units per render second; a class
    without history is estimated with basis ``none``. A scene (the main
    file's hash) that a job was created on has basis ``scene``, else
    ``farm``. ``estimates`` lists the bodies posted; ``estimate_refusal``,
    when set, is the answer to every estimate."""

    def __init__(self, token="rf_test_secret", regions=("local",),
                 node_classes=("standard",)):
        self.token = token
        self.regions = list(regions)
        self.node_classes = list(node_classes)
        self.currency = "EUR"
        self.default_parity = 5.0
        self.history = {"standard": (2.0, 3.0, 5.0)}
        self.workers = {"standard": 2}
        self.price = {}
        self.scenes_rendered = set()
        self.estimates = []
        self.estimate_refusal = None
        self.blobs = {}
        self.bundles = {}
        self.jobs = {}
        self.uploads = []
        self.interrupted = 0
        self.requests = []
        self.blob_paths = {}
        self.lock = threading.Lock()
        self._server = None

    def start(self):
        """Serve on a free port of 127.0.0.1."""
        farm = self

        class Handler(_Handler):
            """This farm's handler."""

        Handler.farm = farm
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        ).start()
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        return self

    def stop(self):
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def unpack(self, bundle_id, folder):
        """Lay a bundle out in ``folder`` from the blobs received, as a
        worker does; the main file's path."""
        body = self.bundles[bundle_id]
        for entry in body["files"]:
            path = os.path.join(folder, *entry["path"].split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as file:
                file.write(self.blobs[entry["hash"]])
        return os.path.join(folder, *body["main"].split("/"))

    def uploaded_paths(self):
        """The bundle paths of the blobs uploaded, all together."""
        return {path for h in self.uploads for path in self.blob_paths[h]}

    # The routes, each answering (status, body) or raising Refusal.

    def farm(self, handler, body):
        """``GET /api/v1/farm``."""
        return 200, {"renderers": ["blender"], "regions": self.regions,
                     "node_classes": self.node_classes}

    def validate(self, handler, body):
        """``POST /api/v1/jobs/validate``: frames, region and node class."""
        for field in ("bundle", "scene"):
            if field in body:
                raise Refusal(422, "bad_field", "validate takes no %s" % field)
        spec = body.get("frames", "")
        if not FRAME_SPEC.match(spec):
            raise Refusal(
                422, "bad_frame_spec",
                "cannot read the frame spec %r: write frames as 1-100, "
                "1-100x5, 1,5,10-12 or 100-1" % spec,
            )
        for key, offered in (("region", self.regions),
                             ("node_class", self.node_classes)):
            if key in body and body[key] not in offered:
                raise Refusal(422, "unknown_placement",
                              "no worker has %s %r" % (key, body[key]))
        count = frame_count(spec)
        chunk = body.get("chunk_size", 1)
        return 200, {"frame_count": count, "tasks": -(-count // chunk)}

    def bundle(self, handler, body):
        """``POST /api/v1/bundles``: paths checked, blobs still missing."""
        files = body["files"]
        for entry in files:
            path = entry["path"]
            if path.startswith("/") or "\\" in path or any(
                part in ("", ".", "..") for part in path.split("/")
            ):
                raise Refusal(422, "bad_bundle", "%r is not a plain relative "
                              "path inside the bundle" % path)
        if body["main"] not in [entry["path"] for entry in files]:
            raise Refusal(422, "bad_bundle", "the main file %r is not one of "
                          "the bundle's files" % body["main"])
        canonical = json.dumps(
            {"main": body["main"],
             "files": sorted(files, key=lambda entry: entry["path"])},
            sort_keys=True,
        ).encode()
        state = hasher()
        state.update(canonical)
        bundle_id = state.hexdigest()
        created = bundle_id not in self.bundles
        self.bundles[bundle_id] = body
        for entry in files:
            self.blob_paths.setdefault(entry["hash"], set()).add(entry["path"])
        return (201 if created else 200), self._bundle_answer(bundle_id)

    def _bundle_answer(self, bundle_id):
        """A bundle answer with what is missing now."""
        body = self.bundles[bundle_id]
        missing = {}
        for entry in body["files"]:
            if entry["hash"] not in self.blobs:
                blob = missing.setdefault(
                    entry["hash"],
                    {"hash": entry["hash"], "bytes": entry["bytes"], "paths": []},
                )
                blob["paths"].append(entry["path"])
        missing = list(missing.values())
        return {
            "id": bundle_id,
            "manifest": body,
            "bytes": sum(entry["bytes"] for entry in body["files"]),
            "missing": missing,
            "missing_bytes": sum(blob["bytes"] for blob in missing),
        }

    def blob(self, handler, blob_hash):
        """``PUT /api/v1/blobs/{hash}``: raw bytes with a Content-Length,
        kept only when they hash to the name."""
        if handler.headers.get("Content-Type") != "application/octet-stream":
            raise Refusal(415, "wrong_content_type", "send raw bytes")
        if handler.headers.get("Transfer-Encoding"):
            raise Refusal(400, "chunked", "the fake wants a Content-Length")
        length = int(handler.headers["Content-Length"])
        data = handler.rfile.read(length)
        if len(data) < length:
            with self.lock:
                self.interrupted += 1
            handler.close_connection = True
            return None
        state = hasher()
        state.update(data)
        if state.hexdigest() != blob_hash:
            raise Refusal(
                422, "hash_mismatch",
                "the bytes sent hash to %s, not %s: send the file whose blake3 "
                "the URL names" % (state.hexdigest(), blob_hash),
            )
        with self.lock:
            created = blob_hash not in self.blobs
            self.blobs[blob_hash] = data
            self.uploads.append(blob_hash)
        return (201 if created else 200), {
            "hash": blob_hash, "bytes": length, "created": created,
        }

    def create_job(self, handler, body):
        """``POST /api/v1/jobs`` on a complete bundle."""
        bundle_id = body.get("bundle")
        if bundle_id not in self.bundles:
            raise Refusal(404, "not_found", "bundle %s" % bundle_id)
        status, checked = self.validate(handler, dict(
            (k, v) for k, v in body.items() if k != "bundle"
        ))
        missing = self._bundle_answer(bundle_id)["missing"]
        if missing:
            raise Refusal(
                409, "bundle_incomplete",
                "the bundle lacks %s; upload them first" % ", ".join(
                    path for blob in missing for path in blob["paths"]
                ),
            )
        job_id = str(uuid.uuid4())
        self.scenes_rendered.add(self._main_hash(bundle_id))
        self.jobs[job_id] = dict(
            body, id=job_id, state="queued", frame_count=checked["frame_count"],
        )
        return 201, self.jobs[job_id]

    def _main_hash(self, bundle_id):
        """The hash of a described bundle's main file."""
        body = self.bundles[bundle_id]
        return next(entry["hash"] for entry in body["files"]
                    if entry["path"] == body["main"])

    def estimate(self, handler, body):
        """``POST /api/v1/jobs/estimate``: the job's fields checked as
        validate checks them, its ``bundle`` (described) or ``scene``
        (uploaded), or neither; per node class, time and cost."""
        with self.lock:
            self.estimates.append(body)
        if self.estimate_refusal is not None:
            raise self.estimate_refusal
        if "bundle" in body and "scene" in body:
            raise Refusal(422, "bad_field", "give the job's `scene` or its "
                          "`bundle`, not both")
        scene = None
        if "bundle" in body:
            if body["bundle"] not in self.bundles:
                raise Refusal(404, "not_found", "no bundle %s was described; "
                              "describe it with POST /api/v1/bundles"
                              % body["bundle"])
            scene = self._main_hash(body["bundle"])
        elif "scene" in body:
            if body["scene"] not in self.blobs:
                raise Refusal(422, "unknown_scene", "no scene with hash %s was "
                              "uploaded" % body["scene"])
            scene = body["scene"]
        _, checked = self.validate(handler, dict(
            (k, v) for k, v in body.items() if k not in ("bundle", "scene")
        ))
        frames = checked["frame_count"]
        parity = body.get("parity_percent", self.default_parity)
        copies = frames * (1 + parity / 100.0)
        wanted = [body["node_class"]] if "node_class" in body else self.node_classes
        classes = []
        for name in wanted:
            workers = self.workers.get(name, 1)
            entry = {"node_class": name, "workers": workers, "basis": "none",
                     "samples": 0, "seconds_per_frame": None,
                     "time_to_complete_secs": None, "cost_micros": None}
            times = self.history.get(name)
            if times is not None:
                price = self.price.get(name, 100)
                keys = ("low", "typical", "high")
                entry.update(
                    basis="scene" if scene in self.scenes_rendered else "farm",
                    samples=12,
                    seconds_per_frame=dict(zip(keys, times)),
                    time_to_complete_secs={
                        k: copies * t / workers for k, t in zip(keys, times)},
                    cost_micros={
                        k: int(round(copies * t * price)) for k, t in zip(keys, times)},
                )
            classes.append(entry)
        classes.sort(key=lambda e: (e["cost_micros"] is None,
                                    (e["cost_micros"] or {}).get("typical", 0)))
        return 200, {"frames": frames, "parity_percent": parity,
                     "currency": self.currency, "classes": classes}

    def show_job(self, handler, job_id):
        """``GET /api/v1/jobs/{id}``."""
        if job_id not in self.jobs:
            raise Refusal(404, "not_found", "job %s" % job_id)
        return 200, self.jobs[job_id]


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`FakeFarm`."""

    farm = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        """Quiet."""

    def _answer(self, status, body, headers=()):
        """Send a JSON answer (or an empty one when ``body`` is None)."""
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method):
        """Answer one request."""
        farm = self.farm
        path = self.path
        with farm.lock:
            farm.requests.append((method, path))
        if path.startswith("/storage/"):
            # A pre-signed address: it must not get the API token.
            if self.headers.get("Authorization"):
                return self._answer(400, {"error": {
                    "code": "token_leaked",
                    "message": "the API token was sent to the storage URL"}})
            data = b"EXR " + path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if self.headers.get("Authorization") != "Bearer " + farm.token:
            return self._answer(401, {"error": {
                "code": "unauthorized",
                "message": "missing or unknown API token; send Authorization: "
                           "Bearer rf_<id>_<secret>"}})
        try:
            if method == "GET" and path == "/api/v1/farm":
                answer = farm.farm(self, None)
            elif method == "GET" and path == "/api/v1/not-json":
                data = b"<html>proxy error</html>"
                self.send_response(502, "Bad Gateway")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None
            elif method == "GET" and path.startswith("/api/v1/jobs/") and \
                    path.endswith("/download"):
                return self._answer(303, None, [("Location", "/storage/frame")])
            elif method == "GET" and path.startswith("/api/v1/jobs/"):
                answer = farm.show_job(self, path.rsplit("/", 1)[1])
            elif method == "PUT" and path.startswith("/api/v1/blobs/"):
                answer = farm.blob(self, path.rsplit("/", 1)[1])
                if answer is None:
                    return None
            elif method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                route = {
                    "/api/v1/jobs/validate": farm.validate,
                    "/api/v1/jobs/estimate": farm.estimate,
                    "/api/v1/bundles": farm.bundle,
                    "/api/v1/jobs": farm.create_job,
                }.get(path)
                if route is None:
                    raise Refusal(404, "not_found", "no route %s" % path)
                answer = route(self, body)
            else:
                raise Refusal(404, "not_found", "no route %s %s" % (method, path))
        except Refusal as refusal:
            # An unread request body would be taken for the next request.
            self.close_connection = True
            return self._answer(refusal.status, {"error": {
                "code": refusal.code, "message": refusal.message}})
        return self._answer(*answer)

    def do_GET(self):
        """GET."""
        self._route("GET")

    def do_POST(self):
        """POST."""
        self._route("POST")

    def do_PUT(self):
        """PUT."""
        self._route("PUT")
