"""The plugin's core (``farm_c4d.job``, as built) under the stub ``c4d``:
frame specs from the render settings, takes, job fields, SaveProject, and
whole submissions against the Blender tests' fake coordinator.

Run from the repository root:
``python3 -m unittest discover -s plugins/cinema4d/tests -t plugins/cinema4d/tests``
"""

import json
import os
import shutil
import tempfile
import unittest

import plugin
from plugin import BaseDocument, BaseTake, FakeFarm, RenderData, TakeData, c4d, document

from farm_c4d import job
from farm_c4d.farm_client.client import ApiError, Cancelled, FarmClient


class StubTest(unittest.TestCase):
    """A fresh stub and a temporary work folder per test."""

    def setUp(self):
        """Reset the stub's record."""
        c4d.reset()
        del c4d.documents.saves[:]
        self.work = tempfile.mkdtemp(prefix="farm-c4d-test-")
        self.addCleanup(shutil.rmtree, self.work, True)


class Frames(StubTest):
    """The frame spec of each Frame Range mode."""

    def spec(self, doc_options=None, values=None):
        """The spec of a document whose render settings have ``values``."""
        doc = BaseDocument(**(doc_options or {}))
        rd = RenderData(values)
        return job.frame_spec(doc, rd)

    def test_manual_range_and_step(self):
        """Manual range and step."""
        self.assertEqual(job.frame_spec(BaseDocument(), RenderData.manual(1, 250)), "1-250")
        self.assertEqual(job.frame_spec(BaseDocument(), RenderData.manual(1, 250, 5)),
                         "1-250x5")
        self.assertEqual(job.frame_spec(BaseDocument(), RenderData.manual(7, 7, 3)), "7")

    def test_frames_follow_the_documents_fps(self):
        """Frames follow the document's fps."""
        doc = BaseDocument(fps=25)
        self.assertEqual(job.frame_spec(doc, RenderData.manual(50, 75, fps=25)), "50-75")

    def test_current_frame_is_one_frame_whatever_the_step(self):
        """Current frame is one frame whatever the step."""
        self.assertEqual(self.spec(
            {"time": 7},
            {c4d.RDATA_FRAMESEQUENCE: c4d.RDATA_FRAMESEQUENCE_CURRENTFRAME,
             c4d.RDATA_FRAMESTEP: 3}), "7")

    def test_all_frames_is_the_documents_range(self):
        """All frames is the document's range."""
        self.assertEqual(self.spec(
            {"min_frame": 0, "max_frame": 90},
            {c4d.RDATA_FRAMESEQUENCE: c4d.RDATA_FRAMESEQUENCE_ALLFRAMES}), "0-90")
        self.assertEqual(self.spec(
            {"min_frame": 0, "max_frame": 90},
            {c4d.RDATA_FRAMESEQUENCE: c4d.RDATA_FRAMESEQUENCE_ALLFRAMES,
             c4d.RDATA_FRAMESTEP: 2}), "0-90x2")

    def test_preview_range(self):
        """Preview range."""
        self.assertEqual(self.spec(
            {"loop": (10, 20)},
            {c4d.RDATA_FRAMESEQUENCE: c4d.RDATA_FRAMESEQUENCE_PREVIEWRANGE,
             c4d.RDATA_FRAMESTEP: 5}), "10-20x5")

    def test_an_unknown_mode_asks_for_frames(self):
        """An unknown mode asks for frames."""
        with self.assertRaises(job.JobError) as caught:
            self.spec(None, {c4d.RDATA_FRAMESEQUENCE: 99})
        self.assertIn("type the frames", str(caught.exception))

    def test_negative_frames_are_refused(self):
        """Negative frames are refused."""
        with self.assertRaises(job.JobError) as caught:
            job.frame_spec(BaseDocument(), RenderData.manual(-5, 10))
        self.assertIn("-5 to 10", str(caught.exception))


class Takes(StubTest):
    """Takes listed, chosen and sent."""

    def test_listed_main_first_then_depth_first(self):
        """Listed main first then depth first."""
        listed = job.takes(document())
        self.assertEqual([(t.name, t.depth, t.main) for t in listed], [
            ("Main", 0, True), ("Day", 1, False), ("Night", 1, False),
            ("Night wide", 2, False)])
        self.assertEqual(listed[0].label(), "Main (main)")
        self.assertEqual(listed[3].label(), "        Night wide")

    def test_the_current_take(self):
        """The current take."""
        self.assertIsNone(job.current_take(document()))
        self.assertEqual(job.current_take(document(current="Night wide")), "Night wide")

    def test_the_chosen_take_is_sent_the_main_take_is_not(self):
        """The chosen take is sent the main take is not."""
        doc = document()
        fields, _ = job.job_fields(doc, job.Settings(take="Day"))
        self.assertEqual(fields["take"], "Day")
        for main in (None, "", "Main"):
            fields, _ = job.job_fields(doc, job.Settings(take=main))
            self.assertNotIn("take", fields)

    def test_frames_come_from_the_takes_render_settings(self):
        """Frames come from the take's render settings."""
        doc = document()
        self.assertEqual(job.job_fields(doc, job.Settings())[0]["frames"], "1-10")
        self.assertEqual(job.job_fields(doc, job.Settings(take="Day"))[0]["frames"], "1-10")
        self.assertEqual(job.job_fields(doc, job.Settings(take="Night"))[0]["frames"],
                         "100-120")
        # A child take inherits its parent's render settings.
        self.assertEqual(
            job.job_fields(doc, job.Settings(take="Night wide"))[0]["frames"], "100-120")
        typed = job.job_fields(doc, job.Settings(take="Night", frames=" 1-3 "))[0]
        self.assertEqual(typed["frames"], "1-3")

    def test_an_unknown_take_is_refused_naming_the_takes(self):
        """An unknown take is refused naming the takes."""
        with self.assertRaises(job.JobError) as caught:
            job.job_fields(document(), job.Settings(take="Dusk"))
        self.assertIn("'Dusk'", str(caught.exception))
        self.assertIn("'Night wide'", str(caught.exception))

    def test_a_name_two_takes_share_is_refused(self):
        """A name two takes share is refused."""
        main = BaseTake("Main", children=[BaseTake("A"), BaseTake("B", children=[
            BaseTake("A")])])
        with self.assertRaises(job.JobError) as caught:
            job.job_fields(document(takes=TakeData(main)), job.Settings(take="A"))
        self.assertIn("2 takes are named 'A'", str(caught.exception))

    def test_a_document_without_take_data(self):
        """A document without take data."""
        doc = document(takes=False)
        self.assertEqual(job.takes(doc), [])
        self.assertIsNone(job.current_take(doc))
        self.assertNotIn("take", job.job_fields(doc, job.Settings())[0])


class Fields(StubTest):
    """The job fields and warnings."""

    def test_defaults(self):
        """Defaults."""
        fields, warnings = job.job_fields(document(), job.Settings())
        self.assertEqual(fields, {"name": "shot", "renderer": "cinema4d",
                                  "frames": "1-10", "priority": 50, "paused": False})
        self.assertEqual(warnings, [])

    def test_every_field_and_never_samples(self):
        """Every field and never samples."""
        fields, _ = job.job_fields(document(), job.Settings(
            name=" hero ", frames="1-100x5", chunk_size=4, priority=80,
            parity_percent=12.345, region=" EU ", node_class="gpu-fast",
            paused=True, take="Night", renderer_version=" >=2024.1,<2025 "))
        self.assertEqual(fields, {
            "name": "hero", "renderer": "cinema4d", "frames": "1-100x5",
            "chunk_size": 4, "priority": 80, "parity_percent": 12.35,
            "region": "EU", "node_class": "gpu-fast", "paused": True,
            "take": "Night", "renderer_version": ">=2024.1,<2025"})
        self.assertNotIn("overrides", fields)

    def test_an_unsaved_document_is_untitled(self):
        """An unsaved document is untitled."""
        fields, _ = job.job_fields(document(name=""), job.Settings())
        self.assertEqual(fields["name"], "untitled")

    def test_multipass_is_warned_about(self):
        """Multipass is warned about."""
        rd = RenderData.manual(1, 10, values={c4d.RDATA_MULTIPASS_ENABLE: True,
                                         c4d.RDATA_MULTIPASS_SAVEIMAGE: True})
        _, warnings = job.job_fields(document(render_data=rd), job.Settings())
        self.assertEqual(len(warnings), 1)
        self.assertIn("Multi-Pass", warnings[0])
        rd[c4d.RDATA_MULTIPASS_ENABLE] = False
        self.assertEqual(job.job_fields(document(render_data=rd), job.Settings())[1], [])


class Saving(StubTest):
    """SaveProject: flags, folder, missing assets."""

    def test_saved_with_its_assets_into_the_empty_folder(self):
        """Saved with its assets into the empty folder."""
        folder = os.path.join(self.work, "project")
        os.mkdir(folder)
        main, files = job.save_project(document(), folder)
        (doc, flags, path), = c4d.called("SaveProject")
        self.assertEqual(path, os.path.join(folder, "shot"))
        self.assertTrue(flags & c4d.SAVEPROJECT_ASSETS)
        self.assertTrue(flags & c4d.SAVEPROJECT_SCENEFILE)
        self.assertTrue(flags & c4d.SAVEPROJECT_DONTTOUCHDOCUMENT)
        self.assertFalse(flags & c4d.SAVEPROJECT_DIALOGSALLOWED)
        self.assertFalse(flags & c4d.SAVEPROJECT_DONTFAILONMISSINGASSETS)
        project = os.path.join(folder, "shot")
        self.assertEqual(main, os.path.join(project, "shot.c4d"))
        self.assertEqual(files, [os.path.join(project, "tex", "metal.png"),
                                 os.path.join(project, "tex", "wood.png")])

    def test_the_main_file_is_found_wherever_it_lands(self):
        """The shallowest .c4d is the main file, the document's name first."""
        real = c4d.documents.SaveProject

        def flat(doc, flags, target, assets, missing):
            """Cinema 4D taking the target as a file name without .c4d."""
            folder = os.path.dirname(target)
            for relative in ("xref/other.c4d", "aaa.c4d", "shot.c4d", "tex/a.png"):
                path = os.path.join(folder, *relative.split("/"))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "wb").close()
            return True

        c4d.documents.SaveProject = flat
        self.addCleanup(setattr, c4d.documents, "SaveProject", real)
        main, files = job.save_project(document(name='a/b:"shot".c4d'), self.work)
        self.assertEqual(os.path.basename(main), "aaa.c4d")
        main, files = job.save_project(document(), self.work)
        self.assertEqual(main, os.path.join(self.work, "shot.c4d"))
        self.assertIn(os.path.join(self.work, "xref", "other.c4d"), files)

    def test_a_document_name_becomes_a_safe_file_name(self):
        """A path in the name keeps its last part; reserved characters are replaced."""
        job.save_project(document(name='a/b:"c".c4d'), self.work)
        (_, _, path), = c4d.called("SaveProject")
        self.assertEqual(os.path.dirname(path), self.work)
        self.assertEqual(os.path.basename(path), "b__c_")

    def test_missing_assets_refuse_naming_them(self):
        """Missing assets refuse naming them."""
        gone = ["/projects/old/tex/rust.png", "/projects/old/hdri/sky.hdr"]
        with self.assertRaises(job.MissingAssets) as caught:
            job.save_project(document(missing=gone), self.work)
        self.assertEqual(caught.exception.paths, gone)
        for path in gone:
            self.assertIn(path, str(caught.exception))
        self.assertIn("2 assets", str(caught.exception))

    def test_a_failed_save_is_refused(self):
        """A failed save is refused."""
        with self.assertRaises(job.JobError) as caught:
            job.save_project(document(save_result=False), self.work)
        self.assertIn("SaveProject failed", str(caught.exception))


class Submissions(StubTest):
    """Whole submissions against the fake coordinator."""

    def setUp(self):
        """A fake farm and a client for it."""
        super().setUp()
        self.farm = FakeFarm().start()
        self.addCleanup(self.farm.stop)
        self.client = FarmClient(self.farm.url, self.farm.token)
        self.requests_at_save = []
        real = c4d.documents.SaveProject

        def save(*args):
            """SaveProject, noting what the farm was asked before it."""
            self.requests_at_save.append(list(self.farm.requests))
            return real(*args)

        c4d.documents.SaveProject = save
        self.addCleanup(setattr, c4d.documents, "SaveProject", real)

    def submit(self, doc, **settings):
        """Submit ``doc`` with ``settings`` synchronously; the result."""
        return job.submit_document(self.client, doc, job.Settings(**settings),
                                   workdir=self.work)

    def test_a_submission_in_order(self):
        """A submission in order."""
        result = self.submit(document(), take="Night wide", chunk_size=5)
        self.assertEqual(self.requests_at_save,
                         [[("POST", "/api/v1/jobs/validate")]])
        self.assertEqual([r for r in self.farm.requests], [
            ("POST", "/api/v1/jobs/validate"), ("POST", "/api/v1/bundles")]
            + [("PUT", "/api/v1/blobs/" + h) for h in self.farm.uploads]
            + [("POST", "/api/v1/jobs")])
        self.assertEqual(len(self.farm.uploads), 3)
        created = self.farm.jobs[result.job_id]
        self.assertEqual(created["renderer"], "cinema4d")
        self.assertEqual(created["take"], "Night wide")
        self.assertEqual(created["frames"], "100-120")
        self.assertEqual(created["frame_count"], 21)
        self.assertNotIn("overrides", created)
        manifest = self.farm.bundles[created["bundle"]]
        self.assertEqual(manifest["main"], "shot.c4d")
        self.assertEqual(sorted(f["path"] for f in manifest["files"]),
                         ["shot.c4d", "tex/metal.png", "tex/wood.png"])
        unpacked = self.farm.unpack(created["bundle"], os.path.join(self.work, "out"))
        with open(unpacked, "rb") as file:
            self.assertEqual(file.read(), b"C4D stub scene")
        self.assertEqual(os.listdir(self.work), ["out"], "the saved project is removed")
        self.assertEqual(result.job_url, self.farm.url + "/api/v1/jobs/" + result.job_id)
        self.assertEqual(result.warnings, [])

    def test_only_missing_blobs_are_uploaded(self):
        """Only missing blobs are uploaded."""
        doc = document()
        self.submit(doc)
        self.assertEqual(len(self.farm.uploads), 3)
        again = self.submit(doc)
        self.assertEqual(again.uploaded, [], "the same project uploads nothing")
        doc.assets["tex/wood.png"] = b"new wood" * 100
        third = self.submit(doc)
        self.assertEqual([b["paths"] for b in third.uploaded], [["tex/wood.png"]])
        self.assertEqual(third.uploaded_bytes, len(b"new wood" * 100))
        self.assertEqual(len(self.farm.jobs), 3)

    def test_a_refusal_is_the_coordinators_message_verbatim(self):
        """A refusal is the coordinator's message verbatim."""
        with self.assertRaises(ApiError) as caught:
            self.submit(document(), frames="5-x")
        self.assertEqual(caught.exception.code, "bad_frame_spec")
        self.assertEqual(str(caught.exception),
                         "cannot read the frame spec '5-x': write frames as 1-100, "
                         "1-100x5, 1,5,10-12 or 100-1")
        self.assertEqual(self.farm.requests, [("POST", "/api/v1/jobs/validate")])
        self.assertEqual(c4d.called("SaveProject"), [], "nothing was saved")

    def test_missing_assets_upload_nothing(self):
        """Missing assets upload nothing."""
        with self.assertRaises(job.MissingAssets) as caught:
            self.submit(document(missing=["/old/tex/rust.png"]))
        self.assertIn("/old/tex/rust.png", str(caught.exception))
        self.assertEqual(self.farm.requests, [("POST", "/api/v1/jobs/validate")])
        self.assertEqual(self.farm.blobs, {})

    def test_a_hostile_take_name_is_data(self):
        """A hostile take name is data."""
        hostile = ('Night", "renderer": "blender", "x": "$(rm -rf ~) `id`; '
                   '-oimage /etc/passwd \\" \u00e9\u6f22')
        main = BaseTake("Main", children=[BaseTake(hostile)])
        result = self.submit(document(takes=TakeData(main)), take=hostile)
        created = self.farm.jobs[result.job_id]
        self.assertEqual(created["take"], hostile)
        self.assertEqual(created["renderer"], "cinema4d")
        self.assertNotIn("x", created)
        self.assertEqual(json.loads(json.dumps(created))["take"], hostile)

    def test_warnings_come_with_the_result(self):
        """Warnings come with the result."""
        rd = RenderData.manual(1, 2, values={c4d.RDATA_MULTIPASS_ENABLE: True,
                                        c4d.RDATA_MULTIPASS_SAVEIMAGE: True})
        result = self.submit(document(render_data=rd))
        self.assertIn("Multi-Pass", result.warnings[0])

    def test_a_cancel_after_the_check_creates_nothing(self):
        """A cancel after the check creates nothing."""
        submission = job.Submission(self.client, document(), job.Settings(),
                                    workdir=self.work)
        with self.assertRaises(Cancelled):
            submission.run(cancelled=lambda: bool(self.farm.requests))
        self.assertEqual(self.farm.jobs, {})
        self.assertEqual(c4d.called("SaveProject"), [])
        self.assertEqual(os.listdir(self.work), [])

    def test_details_hold_the_take_and_warnings(self):
        """Details hold the take and warnings."""
        submission = job.Submission(self.client, document(), job.Settings(take="Day"),
                                    workdir=self.work)
        details = submission.details(submission.run())
        self.assertEqual(details["take"], "Day")
        self.assertEqual(details["warnings"], [])
        self.assertEqual(details["uploaded_bytes"], sum(
            b["bytes"] for b in details["uploaded"]))
        sizes = sorted(len(data) for data in (b"C4D stub scene", plugin.WOOD, plugin.METAL))
        self.assertEqual(sorted(b["bytes"] for b in details["uploaded"]), sizes)
        self.assertTrue(all(len(b["hash"]) == 64 for b in details["uploaded"]))


if __name__ == "__main__":
    unittest.main()
