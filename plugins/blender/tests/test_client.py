"""The add-on's pure Python parts (client, bundle, submission steps)
against a fake coordinator: what is sent, in which order, what is not, and
that refusals keep the server's words.

Run: ``python3 -m unittest discover plugins/blender/tests``
"""

import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fake_farm import FakeFarm  # noqa: E402
from farm_submit import bundle, client, submit  # noqa: E402
from farm_submit.client import ApiError, Cancelled, FarmClient  # noqa: E402


class Project:
    """A project folder: ``shots/shot.blend`` and a few textures."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="farm-test-")
        self.main = self.write("shots/shot.blend", b"BLENDER-v304 main")
        self.wood = self.write("textures/wood.png", b"wood" * 1000)
        self.metal = self.write("textures/metal.png", b"metal" * 3000)
        self.library = self.write("lib/props.blend", b"BLENDER lib" * 500)

    def write(self, relative, data):
        """Write ``data`` at ``relative``; its absolute path."""
        path = os.path.join(self.root, *relative.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(data)
        return path

    def dependencies(self):
        """The absolute paths of the textures and the library."""
        return [self.wood, self.metal, self.library]

    def remove(self):
        """Delete the folder."""
        shutil.rmtree(self.root)


class FarmTest(unittest.TestCase):
    """A fake farm, a client for it and a project, per test."""

    def setUp(self):
        self.farm = FakeFarm().start()
        self.addCleanup(self.farm.stop)
        self.client = FarmClient(self.farm.url + "/", self.farm.token)
        self.project = Project()
        self.addCleanup(self.project.remove)
        self.collected = 0

    def collect(self, main_source=None, dependencies=None):
        """A ``collect`` step for :func:`submit.submit` that counts calls."""
        def collect():
            self.collected += 1
            return (
                self.project.main,
                main_source,
                self.project.dependencies() if dependencies is None else dependencies,
            )
        return collect

    def posted(self, path):
        """How many requests went to ``path`` (any method)."""
        return sum(1 for _, seen in self.farm.requests if seen.startswith(path))


class ClientErrors(FarmTest):
    """Refusals and failures become ApiError with the server's words."""

    def test_refusal_keeps_status_code_and_message_verbatim(self):
        with self.assertRaises(ApiError) as caught:
            self.client.validate_job(submit.job_fields("shot", "5-x"))
        error = caught.exception
        self.assertEqual(error.status, 422)
        self.assertEqual(error.code, "bad_frame_spec")
        self.assertEqual(
            error.message,
            "cannot read the frame spec '5-x': write frames as 1-100, "
            "1-100x5, 1,5,10-12 or 100-1",
        )
        self.assertEqual(str(error), error.message)

    def test_a_bad_token_is_the_servers_401(self):
        bad = FarmClient(self.farm.url, "rf_wrong")
        with self.assertRaises(ApiError) as caught:
            bad.farm()
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(caught.exception.code, "unauthorized")
        self.assertIn("Bearer rf_<id>_<secret>", caught.exception.message)

    def test_an_answer_that_is_not_json(self):
        with self.assertRaises(ApiError) as caught:
            self.client._json("GET", "/api/v1/not-json")
        self.assertEqual(caught.exception.status, 502)
        self.assertIn("502 Bad Gateway", caught.exception.message)
        self.assertIn("proxy error", caught.exception.message)

    def test_an_unreachable_coordinator(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with self.assertRaises(ApiError) as caught:
            FarmClient("http://127.0.0.1:%d" % port, "t", timeout=5).farm()
        self.assertEqual(caught.exception.status, 0)
        self.assertEqual(caught.exception.code, "unreachable")
        self.assertIn("127.0.0.1:%d" % port, caught.exception.message)

    def test_a_url_that_is_no_http_address(self):
        with self.assertRaises(ApiError) as caught:
            FarmClient("127.0.0.1:8080", "t")
        self.assertEqual(caught.exception.code, "bad_url")

    def test_a_blob_that_does_not_match_its_hash(self):
        with self.assertRaises(ApiError) as caught:
            self.client.upload_blob("0" * 64, self.project.wood)
        self.assertEqual(caught.exception.status, 422)
        self.assertEqual(caught.exception.code, "hash_mismatch")
        self.assertTrue(caught.exception.message.startswith("the bytes sent hash to"))


class ClientCalls(FarmTest):
    """The client's routes."""

    def test_farm_lists(self):
        self.assertEqual(self.client.farm(), {
            "renderers": ["blender"], "regions": ["local"],
            "node_classes": ["standard"],
        })

    def test_blob_upload_streams_with_a_content_length(self):
        blob_hash, size = client.hash_file(self.project.metal)
        seen = []
        answer = self.client.upload_blob(blob_hash, self.project.metal, seen.append)
        self.assertEqual(answer, {"hash": blob_hash, "bytes": size, "created": True})
        self.assertEqual(sum(seen), size)
        with open(self.project.metal, "rb") as file:
            self.assertEqual(self.farm.blobs[blob_hash], file.read())
        again = self.client.upload_blob(blob_hash, self.project.metal)
        self.assertFalse(again["created"])

    def test_download_follows_the_redirect_without_the_token(self):
        target = os.path.join(self.project.root, "frame.exr")
        written = self.client.download("/api/v1/jobs/j/frames/1/download", target)
        with open(target, "rb") as file:
            self.assertEqual(file.read(), b"EXR /storage/frame")
        self.assertEqual(written, len(b"EXR /storage/frame"))

    def test_job_url(self):
        self.assertEqual(self.client.job_url("abc"), self.farm.url + "/api/v1/jobs/abc")


class Bundles(unittest.TestCase):
    """Manifests: relative paths under the common folder, refusals."""

    def setUp(self):
        self.project = Project()
        self.addCleanup(self.project.remove)

    def test_paths_are_relative_to_the_common_folder(self):
        built = bundle.build(self.project.main, self.project.dependencies())
        self.assertEqual(built.root, self.project.root)
        manifest = built.manifest()
        self.assertEqual(manifest["main"], "shots/shot.blend")
        self.assertEqual(
            [entry["path"] for entry in manifest["files"]],
            ["shots/shot.blend", "textures/wood.png", "textures/metal.png",
             "lib/props.blend"],
        )
        for entry in manifest["files"]:
            path = os.path.join(self.project.root, *entry["path"].split("/"))
            self.assertEqual((entry["hash"], entry["bytes"]), client.hash_file(path))

    def test_a_scene_beside_its_textures_has_its_own_folder_as_root(self):
        main = self.project.write("solo/a.blend", b"a")
        texture = self.project.write("solo/tex/b.png", b"b")
        built = bundle.build(main, [texture])
        self.assertEqual(built.root, os.path.dirname(main))
        self.assertEqual(built.main, "a.blend")
        self.assertEqual([f.path for f in built.files], ["a.blend", "tex/b.png"])

    def test_a_missing_dependency_is_refused_by_name(self):
        missing = os.path.join(self.project.root, "textures", "gone.png")
        hashed = []
        with self.assertRaises(bundle.MissingDependency) as caught:
            bundle.build(self.project.main, [self.project.wood, missing],
                         progress=lambda *args: hashed.append(args))
        self.assertEqual(caught.exception.path, missing)
        self.assertIn(missing, str(caught.exception))
        self.assertEqual(hashed, [], "nothing is hashed before the check")

    def test_the_main_file_and_duplicates_are_listed_once(self):
        built = bundle.build(self.project.main, [
            self.project.wood, self.project.main,
            os.path.join(self.project.root, "textures", "..", "textures", "wood.png"),
        ])
        self.assertEqual([f.path for f in built.files],
                         ["shots/shot.blend", "textures/wood.png"])

    def test_a_folder_stands_for_its_files(self):
        self.project.write("cache/fluid/data/a.uni", b"1")
        self.project.write("cache/fluid/config/b.uni", b"22")
        built = bundle.build(self.project.main,
                             [os.path.join(self.project.root, "cache", "fluid")])
        self.assertEqual([f.path for f in built.files], [
            "shots/shot.blend", "cache/fluid/config/b.uni", "cache/fluid/data/a.uni",
        ])

    def test_a_copy_is_sent_in_the_main_files_place(self):
        copy = self.project.write("scratch/shot.blend", b"relative copy")
        built = bundle.build(self.project.main, [self.project.wood], copy)
        main = built.files[0]
        self.assertEqual(main.path, "shots/shot.blend")
        self.assertEqual(main.source, copy)
        self.assertEqual((main.hash, main.bytes), client.hash_file(copy))
        self.assertEqual(built.root, self.project.root)

    def test_paths_outside_the_root_are_refused(self):
        with self.assertRaises(bundle.BundleError) as caught:
            bundle.relative_path(os.path.join(self.project.root, "shots"),
                                 self.project.wood)
        self.assertIn(self.project.wood, str(caught.exception))

    def test_another_drive_is_refused_by_name(self):
        if os.name != "nt":
            drive = os.path.splitdrive
            os.path.splitdrive = lambda p: (("D:", p) if "wood" in p else ("C:", p))
            self.addCleanup(setattr, os.path, "splitdrive", drive)
        with self.assertRaises(bundle.BundleError) as caught:
            bundle.bundle_root(self.project.main, [self.project.wood])
        self.assertIn(self.project.wood, str(caught.exception))
        self.assertIn("another drive", str(caught.exception))


class Fields(unittest.TestCase):
    """Job fields and the scene's frame spec."""

    def test_scene_frames(self):
        self.assertEqual(submit.scene_frames(1, 250, 1), "1-250")
        self.assertEqual(submit.scene_frames(1, 100, 5), "1-100x5")
        self.assertEqual(submit.scene_frames(7, 7, 3), "7")

    def test_defaults_are_left_to_the_coordinator(self):
        self.assertEqual(submit.job_fields("shot", "1-3"), {
            "name": "shot", "renderer": "blender", "frames": "1-3",
            "priority": 50, "paused": False,
        })

    def test_every_field(self):
        self.assertEqual(
            submit.job_fields("shot", "1-3", chunk_size=4, priority=80,
                              parity_percent=12.345, region="eu",
                              node_class="fast", paused=True),
            {"name": "shot", "renderer": "blender", "frames": "1-3",
             "chunk_size": 4, "priority": 80, "parity_percent": 12.35,
             "region": "eu", "node_class": "fast", "paused": True},
        )
        self.assertEqual(
            submit.job_fields("s", "1", parity_percent=0)["parity_percent"], 0.0
        )


class Submissions(FarmTest):
    """The steps of :func:`submit.submit`, in order."""

    def test_a_refused_validation_collects_and_uploads_nothing(self):
        with self.assertRaises(ApiError) as caught:
            submit.submit(self.client, submit.job_fields("shot", "5-x"),
                          self.collect())
        self.assertEqual(caught.exception.code, "bad_frame_spec")
        self.assertEqual(self.collected, 0)
        self.assertEqual(self.farm.requests, [("POST", "/api/v1/jobs/validate")])
        self.assertEqual(self.farm.blobs, {})

    def test_a_good_submission_in_order(self):
        stages = []
        progress = submit.Progress(lambda p: stages.append(p.text().split(":")[0]))
        result = submit.submit(self.client, submit.job_fields("shot", "1-12x4"),
                               self.collect(), progress)
        self.assertEqual([m for m, _ in self.farm.requests], ["POST", "POST"] +
                         ["PUT"] * 4 + ["POST"])
        self.assertEqual(self.farm.requests[0][1], "/api/v1/jobs/validate")
        self.assertEqual(self.farm.requests[1][1], "/api/v1/bundles")
        self.assertEqual(self.farm.requests[-1][1], "/api/v1/jobs")
        job = self.farm.jobs[result.job_id]
        self.assertEqual(job["bundle"], result.bundle_id)
        self.assertEqual(job["frame_count"], 3)
        self.assertEqual(result.job_url,
                         self.farm.url + "/api/v1/jobs/" + result.job_id)
        total = sum(os.path.getsize(p) for p in
                    [self.project.main] + self.project.dependencies())
        self.assertEqual(result.uploaded_bytes, total)
        self.assertEqual(result.details()["uploaded_bytes"], total)
        for stage in ("Checking the job with the coordinator", "Hashing",
                      "Uploading", "Creating the job"):
            self.assertIn(stage, stages)

    def test_only_missing_blobs_are_uploaded(self):
        submit.submit(self.client, submit.job_fields("shot", "1-3"), self.collect())
        first = len(self.farm.uploads)
        self.project.write("textures/wood.png", b"new wood" * 100)
        result = submit.submit(self.client, submit.job_fields("shot", "1-3"),
                               self.collect())
        self.assertEqual(len(self.farm.uploads), first + 1)
        self.assertEqual([blob["paths"] for blob in result.uploaded],
                         [["textures/wood.png"]])
        self.assertEqual(result.uploaded_bytes, len(b"new wood" * 100))

    def test_the_same_content_twice_is_sent_once(self):
        twin = self.project.write("textures/twin.png", b"wood" * 1000)
        result = submit.submit(
            self.client, submit.job_fields("shot", "1"),
            self.collect(dependencies=[self.project.wood, twin]),
        )
        self.assertEqual(len(result.uploaded), 2)
        self.assertEqual(sorted(result.uploaded[1]["paths"]),
                         ["textures/twin.png", "textures/wood.png"])

    def test_a_missing_file_is_refused_before_any_upload(self):
        gone = os.path.join(self.project.root, "textures", "gone.png")
        with self.assertRaises(bundle.MissingDependency) as caught:
            submit.submit(self.client, submit.job_fields("shot", "1-3"),
                          self.collect(dependencies=[self.project.wood, gone]))
        self.assertIn(gone, str(caught.exception))
        self.assertEqual(self.farm.requests, [("POST", "/api/v1/jobs/validate")])

    def test_cancel_stops_the_upload(self):
        big = self.project.write("textures/big.exr", os.urandom(300000))
        saved = client.SEND_PIECE
        client.SEND_PIECE = 16384
        self.addCleanup(setattr, client, "SEND_PIECE", saved)
        sent = []

        def cancelled():
            return len(sent) >= 3

        progress = submit.Progress(
            lambda p: sent.append(p.fraction()) if p.text().startswith("Uploading")
            else None
        )
        with self.assertRaises(Cancelled):
            submit.submit(self.client, submit.job_fields("shot", "1-3"),
                          self.collect(dependencies=[big]), progress, cancelled)
        self.assertLess(len(self.farm.uploads), 2, "the big file was not stored")
        self.assertNotIn(client.hash_file(big)[0], self.farm.blobs)
        self.assertEqual(self.farm.jobs, {})
        self.assertFalse(any(path == "/api/v1/jobs" for _, path in self.farm.requests))

    def test_cancel_before_the_bundle(self):
        with self.assertRaises(Cancelled):
            submit.submit(self.client, submit.job_fields("shot", "1"),
                          self.collect(), cancelled=lambda: True)
        self.assertEqual(self.farm.requests, [("POST", "/api/v1/jobs/validate")])

    def test_an_incomplete_bundle_is_the_servers_409(self):
        # The coordinator lost a blob between upload and job creation.
        result = submit.submit(self.client, submit.job_fields("shot", "1"),
                               self.collect())
        self.farm.blobs.pop(result.uploaded[1]["hash"])
        with self.assertRaises(ApiError) as caught:
            self.client.create_job(dict(submit.job_fields("shot", "1"),
                                        bundle=result.bundle_id))
        self.assertEqual(caught.exception.status, 409)
        self.assertIn("textures/wood.png", caught.exception.message)


class ProgressText(unittest.TestCase):
    """The status bar line."""

    def test_stage_and_bytes(self):
        progress = submit.Progress()
        progress.stage("Creating the job")
        self.assertEqual(progress.text(), "Creating the job")
        progress.bytes("Uploading", 3 * 1024 * 1024, 12 * 1024 * 1024)
        self.assertEqual(progress.text(), "Uploading: 3.0 MiB of 12.0 MiB (25%)")
        self.assertEqual(progress.fraction(), 0.25)
        self.assertEqual(submit.readable_size(512), "512 bytes")


if __name__ == "__main__":
    unittest.main()
