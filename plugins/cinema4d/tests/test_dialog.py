"""The plugin's registration, dialog, background run and preferences
(as built) under the stub ``c4d``, against the Blender tests' fake
coordinator."""

import os
import runpy
import shutil
import stat
import tempfile
import time
import unittest

import plugin
from plugin import FakeFarm, c4d, document

from farm_c4d import PLUGIN_ID, dialog, prefs
from farm_c4d.dialog import (ID_CANCEL, ID_CHECK, ID_DEFAULT_PARITY, ID_FRAMES,
                             ID_JOB_URL, ID_MESSAGE, ID_NAME, ID_PARITY, ID_SUBMIT,
                             ID_TAKE, ID_TOKEN, ID_URL)


class StubTest(unittest.TestCase):
    """A fresh stub, a preferences folder and a fake farm per test."""

    def setUp(self):
        """Reset the stub; point the preferences at a temporary folder."""
        c4d.reset()
        del c4d.documents.saves[:]
        self.prefs = tempfile.mkdtemp(prefix="farm-c4d-prefs-")
        self.addCleanup(shutil.rmtree, self.prefs, True)
        c4d.storage.PATHS[c4d.C4D_PATH_PREFS] = self.prefs
        for name in ("FARM_URL", "FARM_TOKEN"):
            if name in os.environ:
                self.addCleanup(os.environ.__setitem__, name, os.environ.pop(name))
        self.farm = FakeFarm().start()
        self.addCleanup(self.farm.stop)


class Registration(StubTest):
    """The .pyp registers the command; Execute opens the dialog."""

    def test_the_command_opens_the_dialog(self):
        """The command opens the dialog."""
        runpy.run_path(os.path.join(plugin.PLUGIN_DIR, "farm_submit_c4d.pyp"),
                       run_name="__main__")
        (plugin_id, name, info, icon, help_text, command), = \
            c4d.called("RegisterCommandPlugin")
        self.assertTrue(1000001 <= plugin_id <= 1000010, "a testing-range placeholder")
        self.assertEqual(plugin_id, PLUGIN_ID)
        self.assertEqual(name, "Submit to Farm\u2026")
        c4d.documents.SetActiveDocument(document())
        self.assertTrue(command.Execute(c4d.documents.active))
        self.assertEqual(c4d.called("GeDialog.Open"), [(c4d.DLG_TYPE_ASYNC, PLUGIN_ID)])
        self.assertTrue(command.dialog.opened)
        self.assertTrue(command.RestoreLayout(None))
        self.assertEqual(c4d.called("GeDialog.Restore"), [(PLUGIN_ID,)])


class Dialog(StubTest):
    """The dialog's fields, Check, Submit, refusals and Cancel."""

    def open(self, doc=None, **values):
        """An opened dialog on ``doc`` (default: the test document) with
        the URL and token of the fake farm and ``values`` typed in."""
        prefs.save(self.farm.url, self.farm.token)
        c4d.documents.SetActiveDocument(doc or document(current="Night"))
        dlg = dialog.FarmDialog()
        self.assertTrue(dlg.Open(c4d.DLG_TYPE_ASYNC, PLUGIN_ID))
        for gadget, value in values.items():
            dlg.stub_type(getattr(dialog, gadget), value)
        return dlg

    def press(self, dlg, button=ID_SUBMIT, timeout=20):
        """Press ``button`` and call the dialog's timer until the run ends."""
        dlg.stub_click(button)
        self.assertEqual(dlg.timer, dialog.TIMER_MS)
        deadline = time.monotonic() + timeout
        while dlg.runner is not None:
            self.assertLess(time.monotonic(), deadline, "the run did not end")
            dlg.Timer(None)
            time.sleep(0.01)
        self.assertEqual(dlg.timer, 0)
        return dlg.GetString(ID_MESSAGE)

    def test_fields_are_filled(self):
        """Fields are filled."""
        dlg = self.open()
        self.assertEqual(dlg.GetString(ID_URL), self.farm.url)
        self.assertEqual(dlg.GetString(ID_TOKEN), self.farm.token)
        self.assertEqual(dlg.gadgets[ID_TOKEN], "password")
        self.assertEqual([label for _, label in dlg.children[ID_TAKE]],
                         ["Main (main)", "    Day", "    Night", "        Night wide"])
        self.assertEqual(dlg.GetInt32(ID_TAKE), 2, "the current take is chosen")
        self.assertEqual(dlg.help[ID_FRAMES], "100-120 (the render settings)")
        self.assertEqual(dlg.help[ID_NAME], "shot")
        self.assertEqual(dlg.GetString(ID_FRAMES), "")
        dlg.stub_type(ID_TAKE, 0)
        self.assertEqual(dlg.help[ID_FRAMES], "1-10 (the render settings)")
        self.assertFalse(dlg.enabled[ID_PARITY])
        self.assertIsNone(dlg.settings().parity_percent)
        dlg.stub_type(ID_DEFAULT_PARITY, False)
        self.assertTrue(dlg.enabled[ID_PARITY])
        self.assertEqual(dlg.settings().parity_percent, 5.0)
        self.assertFalse(dlg.enabled[ID_CANCEL])

    def test_check_validates_only(self):
        """Check validates only."""
        dlg = self.open()
        message = self.press(dlg, ID_CHECK)
        self.assertEqual(self.farm.requests, [("POST", "/api/v1/jobs/validate")])
        self.assertIn("accepts the job: 21 frames in 21 tasks", message)
        self.assertEqual(c4d.called("SaveProject"), [])

    def test_submit_in_the_background(self):
        """Submit in the background."""
        dlg = self.open(ID_FRAMES="1-3")
        message = self.press(dlg)
        (job_id, created), = self.farm.jobs.items()
        self.assertEqual(created["renderer"], "cinema4d")
        self.assertEqual(created["take"], "Night")
        self.assertEqual(created["frames"], "1-3")
        url = self.farm.url + "/api/v1/jobs/" + job_id
        self.assertEqual(dlg.GetString(ID_JOB_URL), url)
        self.assertTrue(message.startswith("Submitted shot (3 frames, "), message)
        self.assertTrue(message.endswith(url), message)
        save, = c4d.documents.saves
        self.assertTrue(save["main_thread"], "SaveProject ran on the main thread")
        self.assertTrue(c4d.called("C4DThread.Start"))
        self.assertEqual(c4d.called("StatusClear"), [()])
        self.assertTrue(dlg.enabled[ID_SUBMIT])

    def test_a_refusal_shows_the_message_verbatim(self):
        """A refusal shows the message verbatim."""
        dlg = self.open(ID_FRAMES="5-x")
        message = self.press(dlg)
        self.assertEqual(message, "cannot read the frame spec '5-x': write frames as "
                                  "1-100, 1-100x5, 1,5,10-12 or 100-1")
        self.assertEqual(dlg.GetString(ID_JOB_URL), "")
        self.assertEqual(c4d.called("SaveProject"), [])

    def test_missing_assets_are_named(self):
        """Missing assets are named."""
        dlg = self.open(document(missing=["/old/tex/rust.png"]))
        message = self.press(dlg)
        self.assertIn("/old/tex/rust.png", message)
        self.assertEqual(self.farm.blobs, {})

    def test_a_bad_token_is_the_servers_401(self):
        """A bad token is the server's 401."""
        dlg = self.open()
        dlg.stub_type(ID_TOKEN, "rf_wrong")
        self.assertIn("missing or unknown API token", self.press(dlg))

    def test_an_unknown_take_or_url_is_refused_at_once(self):
        """An unknown take or url is refused at once."""
        dlg = self.open(ID_URL="127.0.0.1:8080")
        dlg.stub_click(ID_SUBMIT)
        self.assertIsNone(dlg.runner)
        self.assertIn("is not an http:// or https:// address", dlg.GetString(ID_MESSAGE))

    def test_cancel_stops_the_submission(self):
        """Cancel stops the submission."""
        dlg = self.open()
        dlg.stub_click(ID_SUBMIT)
        dlg.stub_click(ID_CANCEL)
        runner = dlg.runner
        self.assertTrue(runner.wait(timeout=20))
        dlg.Timer(None)
        self.assertEqual(dlg.GetString(ID_MESSAGE), "Cancelled: nothing more was uploaded")
        self.assertEqual(self.farm.jobs, {})
        self.assertEqual(self.farm.blobs, {})

    def test_the_token_is_kept_for_the_user_only(self):
        """The token is kept for the user only."""
        dlg = self.open(ID_TOKEN="rf_abc_secret")
        self.press(dlg, ID_CHECK)
        self.assertEqual(prefs.load()["token"], "rf_abc_secret")
        mode = stat.S_IMODE(os.stat(prefs.path()).st_mode)
        self.assertEqual(mode, 0o600)

    def test_takes_follow_the_document(self):
        """Takes follow the document."""
        dlg = self.open()
        c4d.documents.SetActiveDocument(document(name="other.c4d", takes=False))
        dlg.CoreMessage(c4d.EVMSG_CHANGE, None)
        self.assertEqual(dlg.children[ID_TAKE], [])
        self.assertIsNone(dlg.settings().take)
        self.assertEqual(dlg.help[ID_NAME], "other")

    def test_closing_cancels(self):
        """Closing cancels."""
        dlg = self.open()
        dlg.stub_click(ID_SUBMIT)
        runner = dlg.runner
        dlg.Close()
        self.assertFalse(dlg.opened)
        self.assertTrue(runner.wait(timeout=20))
        self.assertEqual(self.farm.jobs, {})


class Prefs(StubTest):
    """The URL and token file, and the environment standing in."""

    def test_defaults_and_the_environment(self):
        """Defaults and the environment."""
        self.assertEqual(prefs.load(), {"url": prefs.DEFAULT_URL, "token": ""})
        os.environ["FARM_URL"] = "http://farm:8080"
        os.environ["FARM_TOKEN"] = "rf_env"
        self.addCleanup(os.environ.pop, "FARM_URL")
        self.addCleanup(os.environ.pop, "FARM_TOKEN")
        self.assertEqual(prefs.load(), {"url": "http://farm:8080", "token": "rf_env"})
        prefs.save("http://mine:1", "rf_mine")
        self.assertEqual(prefs.load(), {"url": "http://mine:1", "token": "rf_mine"})
        self.assertEqual(os.path.dirname(prefs.path()), self.prefs)

    def test_a_broken_file_is_the_defaults(self):
        """A broken file is the defaults."""
        with open(prefs.path(), "w") as file:
            file.write("{not json")
        self.assertEqual(prefs.load()["url"], prefs.DEFAULT_URL)


if __name__ == "__main__":
    unittest.main()
