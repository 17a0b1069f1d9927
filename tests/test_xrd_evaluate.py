"""lib.xrd.evaluate on hand-made labels and probabilities: tables, verdict, metrics dictionary."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from lib import atomic
from lib.xrd import calibration, evaluate
from lib.xrd.dataset import XRDData
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid


def one_hot(predicted: list[int], n_classes: int = 7, p: float = 0.9) -> np.ndarray:
    """Probabilities with ``p`` on the predicted class, the rest spread over the others,
    decreasing with the class index (no ties: top-k is well defined)."""
    ramp = np.linspace(2.0, 1.0, n_classes)
    probs = np.tile((1 - p) * ramp / ramp.sum(), (len(predicted), 1))
    probs[np.arange(len(predicted)), predicted] = p
    return probs


def fake_eval(accuracy: float, n: int, space_group: bool = False) -> dict:
    """An evaluation of ``n`` patterns of which a fraction ``accuracy`` is right."""
    truth = np.arange(n) % 7
    right = int(round(accuracy * n))
    predicted = np.where(np.arange(n) < right, truth, (truth + 1) % 7)
    probs = {"crystal_system": one_hot(list(predicted))}
    if space_group:
        probs["space_group"] = one_hot(list(truth), 230)
    return evaluate.evaluation(truth, probs, truth + 1 if space_group else None)


def test_evaluation_table_confusion_and_top_k():
    truth = np.array([0, 0, 1, 6, 6, 6])
    probs = one_hot([0, 1, 1, 6, 6, 5])
    probs[1, 0] = 0.05                  # second choice of row 1 is its true class 0
    ev = evaluate.evaluation(truth, {"crystal_system": probs})
    assert ev["n"] == 6 and ev["accuracy"] == pytest.approx(4 / 6)
    assert ev["top2_accuracy"] == pytest.approx(5 / 6)
    assert ev["confusion"].shape == (7, 7) and ev["confusion"].sum() == 6
    assert ev["confusion"][0, 1] == 1 and ev["confusion"][6, 5] == 1
    tab = ev["table"]
    assert tab["per_class"]["triclinic"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert tab["per_class"]["cubic"]["recall"] == pytest.approx(2 / 3)
    assert tab["per_class"]["orthorhombic"]["support"] == 0
    assert tab["accuracy"] == pytest.approx(4 / 6)
    assert "space_group_accuracy" not in ev


def test_space_group_head_uses_numbers_1_to_230():
    truth_sg = np.array([1, 225, 230])
    probs = {"crystal_system": one_hot([0, 6, 6]), "space_group": one_hot([0, 224, 0], 230)}
    ev = evaluate.evaluation(np.array([0, 6, 6]), probs, truth_sg)
    assert ev["space_group_accuracy"] == pytest.approx(2 / 3)
    assert ev["space_group_top5_accuracy"] == pytest.approx(2 / 3)


def test_empty_set_gives_nan_not_an_error():
    ev = evaluate.evaluation(np.array([], int), {"crystal_system": np.zeros((0, 7))})
    assert ev["n"] == 0 and np.isnan(ev["accuracy"]) and np.isnan(ev["top2_accuracy"])


def test_standard_error_and_percent():
    assert evaluate.standard_error(0.5, 100) == pytest.approx(0.05)
    assert np.isnan(evaluate.standard_error(0.5, 0))
    assert evaluate.percent(0.9499) == "95.0 %"


def test_accuracy_frame_tables_and_panels():
    evals = {("MobileNetV2", "test"): fake_eval(0.5, 70),
             ("MobileNetV2", "MP"): None,
             ("1D CNN", "test"): fake_eval(0.8, 70, space_group=True),
             ("1D CNN", "MP"): None}
    frame = evaluate.accuracy_frame(evals)
    assert list(frame["model"]) == ["MobileNetV2", "1D CNN"]
    assert list(frame["crystal system accuracy"]) == [0.5, 0.8]
    assert np.isnan(frame["space group accuracy"][0]) and frame["space group accuracy"][1] == 1.0
    assert set(evaluate.tables_of(evals, "test")) == {"MobileNetV2", "1D CNN"}
    assert evaluate.tables_of(evals, "MP") == {}
    table = evaluate.table_frame(evaluate.tables_of(evals, "test"))
    assert table.loc["accuracy", ("1D CNN", "f1")] == pytest.approx(0.8)
    panels = evaluate.confusion_panels(evals)
    assert list(panels) == ["MobileNetV2, synthetic test: accuracy 50.0%",
                            "1D CNN, synthetic test: accuracy 80.0%"]


@pytest.mark.parametrize("mobilenet, expected", [
    (0.55, "supported"), (0.75, "not reproduced as a limit"), (0.30, "not supported")])
def test_verdict_on_the_report_54(mobilenet, expected):
    text = evaluate.verdict_on_report(mobilenet, 1000, False, "imagenet", 5000)
    assert text.startswith(expected)
    assert "from scratch" in evaluate.verdict_on_report(mobilenet, 1000, False, "scratch", 5000)
    assert evaluate.verdict_on_report(mobilenet, 1000, True, "scratch", 5000) == \
        "inconclusive at this scale"


@pytest.mark.parametrize("cnn, mobilenet, expected", [
    (0.80, 0.50, "supported"), (0.50, 0.80, "not supported"), (0.52, 0.50, "inconclusive")])
def test_verdict_on_the_two_models(cnn, mobilenet, expected):
    assert evaluate.verdict_on_models(cnn, mobilenet, 700, False).startswith(expected)


def test_verdict_text_names_the_anchors_and_flags_small_runs():
    evals = {("MobileNetV2", "test"): fake_eval(0.5, 70), ("MobileNetV2", "MP"): None,
             ("1D CNN", "test"): fake_eval(0.8, 70, True), ("1D CNN", "MP"): None}
    small = evaluate.verdict(evals, (2, 1), "scratch: no network", 40)
    assert small.small_scale and small.report_54 == "inconclusive at this scale"
    assert "54 %" in small.text and "94.99 % / 81.14 %" in small.text
    assert "81.7 %" in small.text and "no MP-20 CSV" in small.text
    big = {k: (fake_eval(a, 700, k[0] == "1D CNN") if a is not None else None)
           for k, a in ((("MobileNetV2", "test"), 0.54), (("MobileNetV2", "MP"), 0.52),
                        (("1D CNN", "test"), 0.9), (("1D CNN", "MP"), 0.7))}
    v = evaluate.verdict(big, (20, 8), "imagenet", 2000)
    assert not v.small_scale and v.report_54.startswith("supported")
    assert v.cnn_vs_mobilenet.startswith("supported")
    assert "on 700 real MP structures" in v.text and "a drop of 20.0 %" in v.text
    assert "1.3% of Park et al." in v.text


def tiny_data(crystal_system: list[int], space_group: list[int], reference: list[int]) -> XRDData:
    n = len(crystal_system)
    return XRDData(np.zeros((n, 10), np.float32), [np.zeros(1)] * n, [np.ones(1)] * n,
                   np.array(space_group), np.array(crystal_system), np.array(reference),
                   np.array([f"s{i}" for i in range(n)], object), np.array(["NaCl"] * n, object),
                   np.ones(n, int), Grid(0, 90, 10), 5.0, [{"id": "x", "reason": "r"}],
                   {"seconds": 1.5})


def test_data_summaries_and_counts():
    synth = tiny_data([6, 6, 0], [225, 221, 2], [225, 200, 2])
    block = evaluate.data_summary(synth, n_requested=4)
    assert block["n_structures"] == 3 and block["n_failed"] == 1 and block["n_requested"] == 4
    assert block["per_crystal_system"]["cubic"] == 2
    assert block["n_space_groups_requested"] == 3 and block["n_space_groups_found"] == 3
    assert block["crystal_system_changed_by_symmetry_search"] == pytest.approx(0.0)
    mp = evaluate.data_summary(tiny_data([6, 0], [225, 2], [225, 1]))
    assert mp["space_group_agrees_with_csv"] == 0.5 and mp["n_skipped"] == 1
    assert evaluate.data_summary(None) is None
    counts = evaluate.counts_frame({"a": synth, "b": None})
    assert list(counts.index) == list(CRYSTAL_SYSTEMS) and counts["b"].sum() == 0
    both = evaluate.count_and_share(counts)
    assert both[("share", "a")]["cubic"] == pytest.approx(0.667)


def test_metrics_summary_keeps_the_notebook_keys_and_is_json(tmp_path):
    evals = {("MobileNetV2", "test"): fake_eval(0.5, 70), ("MobileNetV2", "MP"): None,
             ("1D CNN", "test"): fake_eval(0.8, 70, True), ("1D CNN", "MP"): None}
    v = evaluate.verdict(evals, (2, 1), "scratch", 40)
    model = SimpleNamespace(count_params=lambda: 1234, output_names=["crystal_system",
                                                                     "space_group"])
    trained = SimpleNamespace(epochs_run=2, best_epoch=1, seconds=3.5)
    models = {"cnn1d": evaluate.model_summary(evals, "1D CNN", model, trained, bundle="b")}
    out = evaluate.metrics_summary(evals, v, models=models, split={"test": 70})
    assert out["report"] == {"mobilenetv2_accuracy": 0.54, "park2017_crystal_system": 0.9499,
                             "park2017_space_group": 0.8114,
                             "rruff_measured_crystal_system": 0.817}
    assert out["table"]["1D CNN"]["MP"] is None and out["table"]["1D CNN"]["test"]["n"] == 70
    assert out["verdict"]["small_scale"] is True and out["models"]["cnn1d"]["epochs_run"] == 2
    assert out["models"]["cnn1d"]["heads"] == ["crystal_system", "space_group"]
    assert out["models"]["cnn1d"]["parameters"] == 1234 and out["models"]["cnn1d"]["bundle"] == "b"
    assert "probs" not in out["models"]["cnn1d"]["test"]
    back = json.loads(atomic.write_json(tmp_path / "m.json", out).read_text())
    assert back["models"]["cnn1d"]["test"]["confusion"][0][0] == 8     # 56 of 70 right


def test_baselines_of_a_measured_set():
    # 95 monoclinic of 301, as rruff_dev: "always monoclinic" scores 31.6 %
    counts = {"triclinic": 20, "monoclinic": 95, "orthorhombic": 76, "tetragonal": 27,
              "hexagonal": 28, "cubic": 55}
    truth = np.concatenate([np.full(n, CRYSTAL_SYSTEMS.index(k)) for k, n in counts.items()])
    groups = np.where(truth == CRYSTAL_SYSTEMS.index("monoclinic"), 14, 62)
    base = evaluate.baselines(truth, groups)
    assert base["n"] == 301 and base["majority_class"] == "monoclinic"
    assert base["majority_class_accuracy"] == pytest.approx(95 / 301)
    assert round(base["majority_class_accuracy"], 3) == 0.316
    assert base["chance_uniform"] == pytest.approx(1 / 7)
    assert base["chance_prior"] == pytest.approx(sum((n / 301) ** 2 for n in counts.values()))
    assert base["majority_space_group"] == 62
    assert base["majority_space_group_accuracy"] == pytest.approx(206 / 301)
    assert base["space_group_chance_uniform"] == pytest.approx(1 / 230)
    # the always-majority "model" scores exactly the majority baseline
    always = one_hot([CRYSTAL_SYSTEMS.index("monoclinic")] * len(truth))
    ev = evaluate.evaluation(truth, {"crystal_system": always})
    assert ev["accuracy"] == pytest.approx(base["majority_class_accuracy"])
    assert evaluate.baselines(np.array([], int))["majority_class"] is None


def test_measured_frame_panels_and_summary():
    truth = np.array([1, 1, 1, 2, 2, 6])
    good = evaluate.evaluation(truth, {"crystal_system": one_hot([1, 1, 1, 2, 2, 6]),
                                       "space_group": one_hot([13] * 6, 230)},
                               np.array([14, 14, 14, 62, 62, 225]))
    bad = evaluate.evaluation(truth, {"crystal_system": one_hot([0] * 6)})
    evals = {"1D CNN": good, "MobileNetV2": bad}
    base = evaluate.baselines(truth, np.array([14, 14, 14, 62, 62, 225]))
    frame = evaluate.measured_frame(evals, base)
    assert list(frame["model"][:2]) == ["1D CNN", "MobileNetV2"]
    assert frame["crystal system accuracy"].iloc[0] == 1.0
    assert frame["space group accuracy"].iloc[0] == 0.5
    assert np.isnan(frame["space group accuracy"].iloc[1])
    assert "always monoclinic (majority class)" in list(frame["model"])
    panels = evaluate.measured_panels(evals, "rruff_dev")
    assert len(panels) == 2 and all(cm.shape == (7, 7) for cm in panels.values())
    assert any("100.0%" in title and "rruff_dev" in title for title in panels)
    block = evaluate.measured_summary(evals, base, {"n_patterns": 6}, background="snip")
    assert block["set"] == {"n_patterns": 6} and block["background"] == "snip"
    assert block["models"]["1D CNN"]["beats_majority_class"] is True
    assert block["models"]["MobileNetV2"]["beats_majority_class"] is False
    assert "probs" not in block["models"]["1D CNN"]
    table = block["models"]["1D CNN"]["table"]
    assert table["per_class"]["monoclinic"]["recall"] == 1.0
    assert block["models"]["1D CNN"]["space_group_accuracy"] == 0.5
    json.dumps(block, default=atomic._json_default)


def test_verdict_line_on_measured_patterns():
    evals = {("MobileNetV2", "test"): fake_eval(0.5, 280), ("1D CNN", "test"): fake_eval(0.6, 280),
             ("MobileNetV2", "MP"): None, ("1D CNN", "MP"): None}
    truth = np.repeat([1, 2, 6], [95, 76, 130])
    base = evaluate.baselines(truth)
    for right, says in ((0.9, "carries over"), (0.05, "no model beats"), (0.43, "inconclusive")):
        n_right = int(right * len(truth))
        pred = np.where(np.arange(len(truth)) < n_right, truth, 0)
        ev = evaluate.evaluation(truth, {"crystal_system": one_hot(list(pred))})
        v = evaluate.verdict(evals, (20, 8), "imagenet", 2000, measured={"1D CNN": ev},
                             measured_baselines=base)
        line = v.text.splitlines()[-1]
        assert "rruff_dev" in line and says in line and "always" in line and "81.7 %" in line
    plain = evaluate.verdict(evals, (20, 8), "imagenet", 2000)
    assert "rruff_dev" not in plain.text
    # with class-prior rows: the line also names the best without the prior
    low = evaluate.evaluation(truth, {"crystal_system": one_hot([0] * len(truth))})
    high = evaluate.evaluation(truth, {"crystal_system": one_hot(list(truth))})
    v = evaluate.verdict(evals, (20, 8), "imagenet", 2000,
                         measured={"1D CNN": low, "1D CNN + COD prior": high},
                         measured_baselines=base)
    line = v.text.splitlines()[-1]
    assert "Best: 1D CNN + COD prior 100.0 %" in line
    assert "without the class prior the best is 1D CNN 0.0 %" in line
    # a combined row is not taken for the best network, and gets its own clause
    v = evaluate.verdict(evals, (20, 8), "imagenet", 2000,
                         measured={"1D CNN": low, evaluate.INDEXING_FIRST + "1D CNN": high},
                         measured_baselines=base)
    line = v.text.splitlines()[-1]
    assert "Best: 1D CNN 0.0 %" in line and "no model beats" in line
    assert "indexing, then 1D CNN (the network only where no cell indexes the lines): " \
           "100.0 % on 301" in line


def test_combined_block_and_verdict_line_on_simulated_patterns():
    """"Indexing first" on simulated sets: the block keeps the indexing alone (no curve) and every
    answer without probabilities; the verdict names the best combination against the targets
    (synthetic test 80 %, MP 70 %) beside the best network alone and the indexing alone."""
    truth = np.repeat([1, 6], [5, 5])
    records = [{"crystal_system": "cubic", "indexed": True, "space_group": 225}] * 10
    base = evaluate.indexing_baseline(truth, records, np.full(10, 225))
    right = evaluate.evaluation(truth, {"crystal_system": one_hot(list(truth))})
    half = evaluate.evaluation(truth, {"crystal_system": one_hot([6] * 10)})
    answers = {"1D CNN": half, evaluate.INDEXING_FIRST + "1D CNN + COD prior": right}
    block = evaluate.combined_block(base, answers)
    assert block["n"] == 10 and "coverage_curve" not in block["indexing"]
    assert block["indexing"]["accuracy"] == 0.5 and block["indexing"]["space_group_accuracy"] == 1
    assert set(block["answers"]) == set(answers) and "probs" not in block["answers"]["1D CNN"]
    json.dumps(block, default=atomic._json_default)
    evals = {("MobileNetV2", "test"): fake_eval(0.5, 280), ("1D CNN", "test"): fake_eval(0.6, 280),
             ("MobileNetV2", "MP"): None, ("1D CNN", "MP"): None}
    low = evaluate.combined_block(base, {"1D CNN": half,
                                         evaluate.INDEXING_FIRST + "1D CNN": half})
    line = evaluate.verdict(evals, (20, 8), "imagenet", 2000,
                            simulated={"test": block, "MP": low}).text.splitlines()[-1]
    assert line.startswith("- **Indexing first on simulated patterns") and "not reached" in line
    assert ("on held-out synthetic structures (10 patterns, target 80.0 %): indexing, then 1D CNN + "
            "COD prior 100.0 %; best network alone: 1D CNN 50.0 %; indexing alone 50.0 %") in line
    assert "; on real MP structures (10 patterns, target 70.0 %): indexing, then 1D CNN 50.0 %" in line
    both = evaluate.verdict(evals, (20, 8), "imagenet", 2000,
                            simulated={"test": block, "MP": block}).text.splitlines()[-1]
    assert "reached — on" in both and "not reached" not in both
    assert "Indexing first" not in evaluate.verdict(evals, (20, 8), "imagenet", 2000).text


def test_indexing_first_keeps_indexed_answers_and_the_network_elsewhere():
    cubic, mono = CRYSTAL_SYSTEMS.index("cubic"), CRYSTAL_SYSTEMS.index("monoclinic")
    records = [{"indexed": True, "crystal_system": "cubic", "space_group": 225},
               {"indexed": True, "crystal_system": "tetragonal", "space_group": None},
               {"indexed": False, "crystal_system": "monoclinic", "space_group": None},
               {"file": "x.xy", "error": "unreadable"}]
    cs = one_hot([mono, mono, mono, cubic])
    sg = np.full((5, 230), 1.0)
    sg[:, 220] = 5.0                       # the network's favourite group: 221, cubic
    sg[:, 100] = 3.0                       # then 101, tetragonal
    sg[:, 12] = 2.0                        # then 13 (P2/c), monoclinic
    got = evaluate.indexing_first(records, {"crystal_system": cs, "space_group": sg})
    assert got["crystal_system"].shape == (4, 7) and got["space_group"].shape == (4, 230)
    assert list(got["crystal_system"].argmax(1)) == [cubic, CRYSTAL_SYSTEMS.index("tetragonal"),
                                                     mono, cubic]
    assert list(got["space_group"].argmax(1) + 1) == [225, 101, 13, 221]
    assert got["space_group"].sum(1) == pytest.approx(1.0)
    # a space-group prior moves the unindexed monoclinic answer to the commoner group
    prior = calibration.class_frequencies(np.full(10, 13), 230)      # P2₁/c (14) ten times
    moved = evaluate.indexing_first(records, {"crystal_system": cs, "space_group": sg}, prior)
    assert moved["space_group"][2].argmax() + 1 == 14
    assert "space_group" not in evaluate.indexing_first(records, {"crystal_system": cs})


def test_hexagonal_lattice_choice_counts_both_rules_on_hexagonal_answers_only():
    trig, hexa = CRYSTAL_SYSTEMS.index("trigonal"), CRYSTAL_SYSTEMS.index("hexagonal")
    cubic = CRYSTAL_SYSTEMS.index("cubic")
    hexagonal = {"indexed": True, "crystal_system": "hexagonal"}
    records = [hexagonal, hexagonal, hexagonal, hexagonal,
               {"indexed": True, "crystal_system": "cubic"},
               {"indexed": False, "crystal_system": "monoclinic"}, {"error": "unreadable"}]
    truth = np.array([trig, trig, hexa, cubic, cubic, hexa, hexa])
    # the network: trigonal for rows 0 and 2, hexagonal for 1 (others: not counted)
    probs = one_hot([trig, hexa, trig, cubic, trig, trig, trig])
    got = evaluate.hexagonal_lattice_choice(truth, records, {"crystal_system": probs})
    assert got == {"n": 4, "trigonal": 2, "hexagonal": 1, "right_hexagonal": 1,
                   "right_network": 1}
    none = evaluate.hexagonal_lattice_choice(truth[4:], records[4:],
                                             {"crystal_system": probs[4:]})
    assert none == {"n": 0, "trigonal": 0, "hexagonal": 0, "right_hexagonal": 0,
                    "right_network": 0}
    line = evaluate.hexagonal_choice_line("test", {"A": got, "B": {**got, "right_network": 0}})
    assert "(A) is right for 1, always hexagonal for 1: it ties with" in line
    assert "loses to" in evaluate.hexagonal_choice_line("x", {"B": {**got, "right_network": 0}})
    assert "beats" in evaluate.hexagonal_choice_line("x", {"C": {**got, "right_network": 2}})
    assert "no pattern" in evaluate.hexagonal_choice_line("x", {"A": none})
    assert "no network" in evaluate.hexagonal_choice_line("x", {})


def test_indexing_first_evaluations_name_each_network_and_the_prior_alone():
    cubic, mono = CRYSTAL_SYSTEMS.index("cubic"), CRYSTAL_SYSTEMS.index("monoclinic")
    records = [{"indexed": True, "crystal_system": "cubic", "space_group": 225},
               {"indexed": False, "crystal_system": "monoclinic", "space_group": None}]
    truth = np.array([cubic, mono])
    networks = {"A": {"crystal_system": one_hot([mono, mono])},
                "B": {"crystal_system": one_hot([mono, cubic])}}
    prior = np.full(7, 0.1)
    prior[mono] = 0.4
    got = evaluate.indexing_first_evaluations(truth, records, networks,
                                              class_prior=prior / prior.sum())
    first = evaluate.INDEXING_FIRST
    assert list(got) == [first + "A", first + "B", first + evaluate.NO_NETWORK]
    assert [got[first + n]["accuracy"] for n in ("A", "B", evaluate.NO_NETWORK)] == [1.0, 0.5,
                                                                                      1.0]
    assert got[first + "A"]["accuracy"] == evaluate.evaluation(
        truth, evaluate.indexing_first(records, networks["A"]))["accuracy"]
    assert list(evaluate.indexing_first_evaluations(truth, records, networks)) == [
        first + "A", first + "B"]


def test_train_stream_draws_new_batches_each_epoch():
    """models.train_stream fits from a Keras PyDataset (as PatternStream is), keeps the best
    epoch, and the dataset is asked for every batch of every epoch."""
    import keras

    from lib.xrd import models

    class Stream(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def __len__(self):
            return 3

        def __getitem__(self, index):
            self.calls += 1
            rng = np.random.default_rng(self.calls)
            y = rng.integers(0, 7, 8)
            x = np.zeros((8, 200), np.float32)
            x[np.arange(8), 20 * y + 10] = 1.0               # one peak whose place is the class
            return x, {"crystal_system": y, "space_group": y}

    model = models.build_cnn1d(200, filters=4, dense=(8,), dropout=0.0)
    stream = Stream()
    xv = np.zeros((7, 200), np.float32)
    xv[np.arange(7), 20 * np.arange(7) + 10] = 1.0
    yv = {"crystal_system": np.arange(7), "space_group": np.arange(7)}
    res = models.train_stream(model, stream, xv, yv, epochs=2, learning_rate=1e-3, verbose=0)
    assert res.epochs_run == 2 and 1 <= res.best_epoch <= 2
    assert "val_crystal_system_accuracy" in res.history
    assert stream.calls >= 6


def test_calibrate_lowers_ece_of_an_overconfident_model_and_picks_a_threshold():
    """Temperature scaling fitted on validation: T > 1 for an over-confident model, lower ECE
    on held-out patterns, argmax unchanged; the threshold reaches the target accuracy."""
    rng = np.random.default_rng(0)

    def overconfident(n):
        truth = rng.integers(0, 7, n)
        right = rng.random(n) < 0.6                       # 60 % right, but ~99 % sure
        pred = np.where(right, truth, (truth + rng.integers(1, 7, n)) % 7)
        logits = rng.normal(0, 1, (n, 7))
        logits[np.arange(n), pred] += 6 + 2 * right       # the right answers a little surer
        p = np.exp(logits - logits.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True), truth

    pv, yv = overconfident(2000)
    pm, ym = overconfident(1000)
    c = evaluate.calibrate(pv, yv, pm, ym, target_accuracy=0.7)
    assert c["temperature"] > 1
    assert c["ece_validation_after"] < c["ece_validation_before"]
    assert c["ece_measured_after"] < c["ece_measured_before"]
    np.testing.assert_array_equal(c["measured_calibrated"].argmax(1), pm.argmax(1))
    assert 0 < c["coverage_at_threshold"] < 1 and c["accuracy_at_threshold"] >= 0.7
    assert c["coverage_curve"]["coverage"][0] == 1.0
    json.dumps(evaluate.calibration_summary(c))               # plain numbers only
    never = evaluate.calibrate(pv, yv, pm, ym, target_accuracy=1.01)
    assert never["confidence_threshold"] > 1 and never["coverage_at_threshold"] == 0
    assert never["accuracy_at_threshold"] is None
    only_val = evaluate.calibrate(pv, yv)
    assert "confidence_threshold" not in only_val
    # with a class prior: temperature first, then the prior (as classify does)
    prior = np.array([0.05, 0.3, 0.25, 0.1, 0.1, 0.05, 0.15])
    shifted = evaluate.calibrate(pv, yv, pm, ym, target_accuracy=0.7, prior=prior)
    assert shifted["temperature"] == c["temperature"]
    np.testing.assert_allclose(shifted["measured_calibrated"],
                               calibration.prior_corrected(c["measured_calibrated"], prior))


def test_coverage_figure(tmp_path):
    from lib.xrd import calibration, plots

    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    curve = calibration.coverage_curve(probs, np.array([0, 1, 1]))
    fig = plots.coverage_curves({"a": curve}, {"a": 0.6}, baseline=0.5, title="t")
    fig.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0


def test_fallback_choice_prefers_the_network_only_when_it_scores_higher():
    base = {"accuracy": 0.658, "space_group_accuracy": 0.346}
    assert evaluate.fallback_choice({"accuracy": 0.654, "space_group_accuracy": 0.4}, base) \
        == "prior"
    assert evaluate.fallback_choice({"accuracy": 0.658, "space_group_accuracy": 0.35}, base) \
        == "network"
    assert evaluate.fallback_choice({"accuracy": 0.658}, base) == "prior"    # no group head
    assert evaluate.fallback_choice({"accuracy": 0.7}, base) == "network"
    flat = evaluate.prior_probabilities(np.full(7, 1 / 7), 3)
    assert flat["crystal_system"].shape == (3, 7) and flat["space_group"].shape == (3, 230)
