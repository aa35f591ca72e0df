"""The drift figures on synthetic live streams of known shift, read back through the real EMF
and GetMetricData code; the JS divergence checked against scipy (dev dependency only)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from scipy.spatial.distance import jensenshannon

from contracts import drift as contract
from contracts.metric_dimensions import label_dimension
from drift.figures import LiveWindow, Thresholds, compare, js_divergence, label_name
from drift.window import Window, read_window
from shared.drift_baseline import build_baseline, confidence_section
from shared.drift_signals import LabelCap
from tests.drift_streams import NAMESPACE, MetricStore, Stream, emf_lines

END = datetime(2026, 5, 2, 10, 0, tzinfo=UTC)
THRESHOLDS = Thresholds(
    min_images=200,
    label_divergence=0.05,
    confidence_drop=0.1,
    abstention_increase=0.1,
    size_divergence=0.2,
    label_shift=0.05,
)
TEST_SHARES = {"cat": 0.5, "dog": 0.3, "bird": 0.2}


def baseline(shares: dict[str, float] = TEST_SHARES, n: int = 1000) -> dict[str, object]:
    """A version whose test set has ``shares``, 5% abstentions, top confidences in 0.85..0.99
    and training images of 60-120 kB: what :class:`Stream`'s defaults draw."""
    rng = random.Random(42)
    top = [
        (label, rng.uniform(0.85, 0.99)) for label in shares for _ in range(int(n * shares[label]))
    ]
    return build_baseline(
        pipeline=contract.REKOGNITION,
        model="v1",
        test={
            "images": n,
            "label_counts": {label: round(n * share) for label, share in shares.items()},
            "abstention_rate": 0.05,
            "confidence": confidence_section(top),
        },
        training=None,
        sizes=[rng.randint(60_000, 120_000) for _ in range(n)],
    )


def live(stream: Stream, model: str = "v1") -> LiveWindow:
    """``stream`` published as the inference code does, read back as the evaluator does."""
    store = MetricStore(page_size=7)  # several pages: NextToken is followed
    store.ingest(emf_lines(contract.REKOGNITION, model, stream), at=END - timedelta(hours=1))
    window = Window(contract.REKOGNITION, model, END - timedelta(hours=24), END)
    return read_window(store, NAMESPACE, window)


def scipy_divergence(p: dict[str, float], q: dict[str, float]) -> float:
    axis = sorted(set(p) | set(q))
    distance = jensenshannon([p.get(k, 0) for k in axis], [q.get(k, 0) for k in axis], base=2)
    return float(distance) ** 2  # scipy returns the distance: the divergence's square root


@pytest.mark.parametrize("seed", range(40))
def test_js_divergence_is_scipys_squared_distance_in_base_2(seed):
    rng = random.Random(seed)
    keys = [f"k{i}" for i in range(rng.randint(2, 12))]
    p = {k: rng.choice([0, rng.randint(1, 1000)]) for k in keys}
    q = {k: rng.choice([0, rng.randint(1, 1000)]) for k in keys}
    p[keys[0]] = p[keys[0]] or 1
    q[keys[-1]] = q[keys[-1]] or 1
    assert js_divergence(p, q) == pytest.approx(scipy_divergence(p, q), abs=1e-12)


def test_js_divergence_bounds():
    assert js_divergence({"a": 3, "b": 1}, {"a": 30, "b": 10}) == pytest.approx(0, abs=1e-15)
    assert js_divergence({"a": 1}, {"b": 1}) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="non-empty"):
        js_divergence({"a": 0}, {"a": 1})


def test_no_shift_stays_quiet():
    figures = compare(baseline(), live(Stream(TEST_SHARES, n_images=3000, seed=1)), THRESHOLDS)
    assert all(value is not None for value in figures.values.values()), figures.quiet
    assert figures.breaches == []
    assert not figures.drifted
    assert figures.moved == []
    assert figures.values[contract.LABEL_DIVERGENCE] < 0.01
    assert abs(figures.values[contract.CONFIDENCE_DROP]) < 0.01
    assert abs(figures.values[contract.ABSTENTION_INCREASE]) < 0.02


def test_a_known_label_shift_is_detected_and_the_moved_labels_named():
    shifted = {"cat": 0.2, "dog": 0.6, "bird": 0.2}
    window = live(Stream(shifted, n_images=3000, seed=2))
    figures = compare(baseline(), window, THRESHOLDS)
    assert figures.breaches == [contract.LABEL_DIVERGENCE]
    assert [move.name for move in figures.moved] == ["dog", "cat"]  # largest change first
    dog, cat = figures.moved
    assert dog.change == pytest.approx(0.3, abs=0.03)
    assert cat.change == pytest.approx(-0.3, abs=0.03)
    assert dog.baseline_share == pytest.approx(0.3)
    # The figure is scipy's on the very counts the window read back.
    expected = scipy_divergence(dict(window.labels), {"cat": 500, "dog": 300, "bird": 200})
    assert figures.values[contract.LABEL_DIVERGENCE] == pytest.approx(expected, abs=1e-12)


def test_a_tiny_window_stays_quiet_even_when_it_is_all_one_label():
    figures = compare(baseline(), live(Stream({"bird": 1.0}, n_images=60)), THRESHOLDS)
    assert figures.values == dict.fromkeys(contract.FIGURES)
    assert not figures.drifted
    assert figures.labels == []
    assert figures.moved == []
    assert "fewer than the minimum of 200" in figures.quiet[contract.LABEL_DIVERGENCE]


def test_less_confidence_and_more_abstentions_are_detected():
    stream = Stream(TEST_SHARES, n_images=3000, confidence=(0.5, 0.7), abstention_rate=0.3)
    figures = compare(baseline(), live(stream), THRESHOLDS)
    assert sorted(figures.breaches) == [contract.ABSTENTION_INCREASE, contract.CONFIDENCE_DROP]
    assert figures.values[contract.CONFIDENCE_DROP] == pytest.approx(0.92 - 0.6, abs=0.02)
    assert figures.values[contract.ABSTENTION_INCREASE] == pytest.approx(0.25, abs=0.03)


def test_serving_images_larger_than_the_training_images_are_skew():
    stream = Stream(TEST_SHARES, n_images=1000, sizes=(2_500_000, 3_500_000))
    figures = compare(baseline(), live(stream), THRESHOLDS)
    assert figures.breaches == [contract.SIZE_DIVERGENCE]
    assert figures.values[contract.SIZE_DIVERGENCE] == pytest.approx(1.0)


def test_a_missing_baseline_side_leaves_its_figure_out():
    document = baseline()
    document["test"]["confidence"] = None  # type: ignore[index]
    document["image_bytes"] = None
    figures = compare(document, live(Stream(TEST_SHARES, n_images=1000)), THRESHOLDS)
    assert figures.values[contract.CONFIDENCE_DROP] is None
    assert figures.values[contract.SIZE_DIVERGENCE] is None
    assert figures.quiet[contract.CONFIDENCE_DROP] == "the baseline has no figure to compare with"
    assert figures.values[contract.LABEL_DIVERGENCE] is not None


def test_labels_outside_ascii_are_compared_by_dimension_and_named_in_full():
    shares = {"Straßenbahn": 0.5, "猫": 0.5}
    window = live(Stream({"Straßenbahn": 0.1, "猫": 0.9}, n_images=1000))
    assert set(window.labels) == {label_dimension("Straßenbahn"), label_dimension("猫")}
    figures = compare(baseline(shares), window, THRESHOLDS)
    assert [move.name for move in figures.moved] == ["猫", "Straßenbahn"]


def test_labels_past_the_cap_fold_into_other():
    cap = LabelCap(cap=2)
    assert [cap.dimension("v1", label) for label in ("a", "b", "c", "a", "d")] == [
        "a",
        "b",
        contract.OTHER_LABEL,
        "a",
        contract.OTHER_LABEL,
    ]
    assert cap.dimension("v2", "c") == "c"  # per model
    assert label_name(contract.OTHER_LABEL, {}) == "(other labels)"
    assert label_name(label_dimension("猫"), {}) == "猫"


def test_the_report_escapes_label_names_and_says_why_a_figure_is_quiet():
    from drift.report import render_html, report_document

    shares = {"<script>": 0.5, "chat & chien": 0.5}
    window = live(Stream({"<script>": 0.9, "chat & chien": 0.1}, n_images=1000))
    figures = compare(baseline(shares), window, THRESHOLDS)
    document = report_document(
        environment="dev",
        window=Window(contract.REKOGNITION, "v1", END - timedelta(hours=24), END),
        baseline_uri="s3://artifacts/reports/p/v1/baseline.json",
        baseline=baseline(shares),
        live=window,
        figures=figures,
        thresholds=THRESHOLDS,
    )
    html = render_html(document)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "chat &amp; chien" in html
    assert "<strong>DRIFT</strong>" in html
    assert [entry["label"] for entry in document["labels"] if entry["moved"]] == [
        "<script>",
        "chat & chien",
    ]
