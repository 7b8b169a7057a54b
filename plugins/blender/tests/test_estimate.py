"""The add-on's estimate (``POST /api/v1/jobs/estimate``) against the fake
coordinator: what is sent, in which order, what is not (no upload, no job),
refusals in the server's words, and how the answer reads for people.

Run: ``python3 -m unittest discover -s plugins/blender/tests -t plugins/blender/tests``
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import test_client as base  # noqa: E402
from fake_farm import FakeFarm, Refusal  # noqa: E402
from farm_submit import estimate, submit  # noqa: E402
from farm_submit.client import ApiError, Cancelled  # noqa: E402

# A class as the coordinator answers it, with figures.
FAST = {
    "node_class": "gpu-fast", "workers": 3, "basis": "scene", "samples": 12,
    "seconds_per_frame": {"low": 2.0, "typical": 2.5, "high": 4.0},
    "time_to_complete_secs": {"low": 182.0, "typical": 250.0, "high": 400.0},
    "cost_micros": {"low": 300000, "typical": 420000, "high": 610000},
}
# A class without history: no figures.
FRESH = {
    "node_class": "cpu-cheap", "workers": 1, "basis": "none", "samples": 0,
    "seconds_per_frame": None, "time_to_complete_secs": None,
    "cost_micros": None,
}


class Durations(unittest.TestCase):
    """Seconds for people."""

    def test_durations(self):
        for seconds, text in (
            (0, "0 s"), (0.42, "0.4 s"), (0.96, "1 s"), (2.5, "2.5 s"),
            (9.96, "10 s"), (42.4, "42 s"),
            (59.6, "1 min"), (60, "1 min"), (250, "4 min 10 s"),
            (3599.6, "1 h"), (7530, "2 h 6 min"), (7200, "2 h"),
            (86400 + 3 * 3600 + 100, "1 d 3 h"), (-5, "0 s"),
        ):
            self.assertEqual(estimate.duration(seconds), text, seconds)


class Amounts(unittest.TestCase):
    """Integer micro-units in the currency."""

    def test_money(self):
        self.assertEqual(estimate.money(420000, "EUR"), "EUR 0.42")
        self.assertEqual(estimate.money(425000, "EUR"), "EUR 0.43")
        self.assertEqual(estimate.money(1234567890, "USD"), "USD 1,234.57")
        self.assertEqual(estimate.money(0, "EUR"), "EUR 0.00")
        self.assertEqual(estimate.money(-420000, "EUR"), "EUR -0.42")
        self.assertEqual(estimate.money(420000, ""), "0.42")

    def test_a_small_amount_is_not_shown_as_zero(self):
        self.assertEqual(estimate.amount(3150), "0.003")
        self.assertEqual(estimate.amount(42), "0.00004")
        self.assertEqual(estimate.amount(1), "0.000001")
        self.assertEqual(estimate.amount(10000), "0.01")

    def test_a_range(self):
        lines = estimate.class_lines(FAST, "EUR")
        self.assertEqual(lines["cost"], "EUR 0.42 (0.30\u20130.61)")
        self.assertEqual(lines["time"], "4 min 10 s (3 min 2 s\u20136 min 40 s)")
        self.assertEqual(lines["per_frame"], "2.5 s (2 s\u20134 s)")
        same = {"low": 5.0, "typical": 5.0, "high": 5.0}
        self.assertEqual(estimate.spread(same, estimate.duration), "5 s")
        self.assertEqual(estimate.spread(None, estimate.duration), "\u2014")


class Bases(unittest.TestCase):
    """Where the figures come from, and a class without any."""

    def test_known_bases(self):
        self.assertEqual(estimate.basis_text(FAST),
                         "from this scene's history (12 frames)")
        self.assertEqual(estimate.basis_text(dict(FAST, basis="farm", samples=1)),
                         "from the farm's history (1 frame)")
        self.assertEqual(estimate.basis_text(FRESH), "no history yet")

    def test_figures_scaled_from_another_class(self):
        scaled = dict(FAST, basis="farm", scaled_from="gpu-standard")
        self.assertEqual(
            estimate.basis_text(scaled),
            "from the farm's history on gpu-standard, scaled by speed score "
            "(12 frames)",
        )

    def test_bases_added_later_read_as_themselves(self):
        self.assertEqual(estimate.basis_text(dict(FAST, basis="speed_score")),
                         "from the node class's speed score")
        self.assertEqual(estimate.basis_text(dict(FAST, basis="vendor_table")),
                         "from vendor table")
        self.assertEqual(estimate.basis_text({"node_class": "x"}), "no history yet")

    def test_a_class_without_history(self):
        lines = estimate.class_lines(FRESH, "EUR")
        self.assertEqual(lines["workers"], "1 worker online")
        self.assertEqual((lines["time"], lines["cost"], lines["per_frame"]),
                         ("\u2014", "\u2014", "\u2014"))
        self.assertEqual(lines["basis"], "no history yet")
        self.assertFalse(lines["has_figures"])
        self.assertTrue(estimate.class_lines(FAST, "EUR")["has_figures"])

    def test_the_answer_and_its_report_line(self):
        answer = {"frames": 100, "parity_percent": 5.0, "currency": "EUR",
                  "classes": [FAST, FRESH]}
        head, classes = estimate.lines(answer)
        self.assertEqual(head, "100 frames, 5% rendered twice to verify them")
        self.assertEqual([c["node_class"] for c in classes], ["gpu-fast", "cpu-cheap"])
        self.assertEqual(classes[0]["workers"], "3 workers online")
        self.assertEqual(
            estimate.report_line(answer),
            "Estimate: 100 frames, 5% rendered twice to verify them; gpu-fast "
            "4 min 10 s (3 min 2 s\u20136 min 40 s), EUR 0.42 (0.30\u20130.61); "
            "cpu-cheap no history yet",
        )
        empty = dict(answer, classes=[], parity_percent=0, frames=1)
        self.assertEqual(estimate.lines(empty), ("1 frame", []))
        self.assertIn("no worker the job's placement admits is online",
                      estimate.report_line(empty))


class Estimates(base.FarmTest):
    """:func:`estimate.estimate` against the fake farm."""

    def setUp(self):
        super().setUp()
        self.farm.price["standard"] = 1400

    def test_the_bundle_is_described_not_uploaded(self):
        fields = submit.job_fields("shot", "1-100", parity_percent=0, priority=70)
        result = estimate.estimate(self.client, fields, self.collect())
        self.assertEqual(self.farm.requests, [
            ("POST", "/api/v1/jobs/validate"), ("POST", "/api/v1/bundles"),
            ("POST", "/api/v1/jobs/estimate"),
        ])
        self.assertEqual(self.farm.uploads, [])
        self.assertEqual(self.farm.jobs, {})
        # The body the submission would post, its bundle included.
        self.assertEqual(self.farm.estimates, [dict(fields, bundle=result.bundle_id)])
        self.assertIn(result.bundle_id, self.farm.bundles)
        self.assertEqual(result.fields, fields)
        answer = result.answer
        self.assertEqual((answer["frames"], answer["parity_percent"],
                          answer["currency"]), (100, 0, "EUR"))
        head, classes = estimate.lines(answer)
        self.assertEqual(head, "100 frames")
        self.assertEqual(classes[0], {
            "node_class": "standard", "workers": "2 workers online",
            "time": "2 min 30 s (1 min 40 s\u20134 min 10 s)",
            "per_frame": "3 s (2 s\u20135 s)",
            "cost": "EUR 0.42 (0.28\u20130.70)",
            "basis": "from the farm's history (12 frames)",
            "has_figures": True,
        })

    def test_a_scene_rendered_before_is_estimated_from_its_own_history(self):
        fields = submit.job_fields("shot", "1-10")
        submit.submit(self.client, fields, self.collect())
        result = estimate.estimate(self.client, fields, self.collect())
        self.assertEqual(result.answer["classes"][0]["basis"], "scene")
        self.project.write("shots/shot.blend", b"BLENDER-v304 changed")
        result = estimate.estimate(self.client, fields, self.collect())
        self.assertEqual(result.answer["classes"][0]["basis"], "farm")

    def test_without_the_scene_the_body_is_the_fields(self):
        fields = submit.job_fields("untitled", "1-3")
        result = estimate.estimate(self.client, fields)
        self.assertIsNone(result.bundle_id)
        self.assertEqual(self.farm.estimates, [fields])
        self.assertEqual(self.posted("/api/v1/bundles"), 0)
        self.assertEqual(result.answer["frames"], 3)
        self.assertEqual(result.details(), {
            "answer": result.answer, "fields": fields, "bundle": None,
        })

    def test_stages(self):
        stages = []
        progress = submit.Progress(lambda p: stages.append(p.text().split(":")[0]))
        estimate.estimate(self.client, submit.job_fields("shot", "1"),
                          self.collect(), progress)
        for stage in ("Checking the job with the coordinator",
                      "Collecting the scene's files", "Hashing", "Estimating"):
            self.assertIn(stage, stages)

    def test_bad_frames_are_refused_before_anything_is_hashed(self):
        with self.assertRaises(ApiError) as caught:
            estimate.estimate(self.client, submit.job_fields("shot", "5-x"),
                              self.collect())
        self.assertEqual(caught.exception.code, "bad_frame_spec")
        self.assertEqual(self.collected, 0)
        self.assertEqual(self.farm.requests, [("POST", "/api/v1/jobs/validate")])

    def test_a_refused_estimate_keeps_the_servers_words(self):
        self.farm.estimate_refusal = Refusal(
            422, "unmatched_placement",
            "no worker can ever take this job: none is in region 'DE'",
        )
        with self.assertRaises(ApiError) as caught:
            estimate.estimate(self.client, submit.job_fields("shot", "1-3"),
                              self.collect())
        self.assertEqual(caught.exception.status, 422)
        self.assertEqual(caught.exception.code, "unmatched_placement")
        self.assertEqual(str(caught.exception),
                         "no worker can ever take this job: none is in region 'DE'")
        self.assertEqual(self.farm.uploads, [])

    def test_an_unknown_bundle_is_the_servers_404(self):
        with self.assertRaises(ApiError) as caught:
            self.client.estimate_job(dict(submit.job_fields("shot", "1"),
                                          bundle="0" * 64))
        self.assertEqual((caught.exception.status, caught.exception.code),
                         (404, "not_found"))
        self.assertIn("describe it with POST /api/v1/bundles",
                      caught.exception.message)

    def test_cancel_before_the_estimate(self):
        with self.assertRaises(Cancelled) as caught:
            estimate.estimate(self.client, submit.job_fields("shot", "1"),
                              self.collect(), cancelled=lambda: True)
        self.assertEqual(str(caught.exception), "Cancelled: no estimate was made")
        self.assertEqual(self.farm.estimates, [])


class ClassesWithoutHistory(base.FarmTest):
    """A farm with a class nothing has rendered on yet."""

    def setUp(self):
        super().setUp()
        self.farm.stop()
        self.farm = FakeFarm(node_classes=("standard", "gpu-fast")).start()
        self.addCleanup(self.farm.stop)
        self.client = type(self.client)(self.farm.url, self.farm.token)

    def test_a_class_with_basis_none(self):
        result = estimate.estimate(self.client, submit.job_fields("shot", "1-10"),
                                   self.collect())
        classes = {c["node_class"]: c for c in result.answer["classes"]}
        self.assertEqual(classes["gpu-fast"]["basis"], "none")
        self.assertIsNone(classes["gpu-fast"]["cost_micros"])
        head, lines = estimate.lines(result.answer)
        fresh = next(line for line in lines if line["node_class"] == "gpu-fast")
        self.assertEqual((fresh["workers"], fresh["time"], fresh["cost"],
                          fresh["basis"], fresh["has_figures"]),
                         ("1 worker online", "\u2014", "\u2014",
                          "no history yet", False))
        self.assertIn("gpu-fast no history yet", estimate.report_line(result.answer))

    def test_the_chosen_class_only(self):
        result = estimate.estimate(
            self.client, submit.job_fields("shot", "1", node_class="gpu-fast"),
            self.collect(),
        )
        self.assertEqual([c["node_class"] for c in result.answer["classes"]],
                         ["gpu-fast"])
        self.assertEqual(self.farm.estimates[0]["node_class"], "gpu-fast")


if __name__ == "__main__":
    unittest.main()
