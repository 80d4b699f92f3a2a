"""The serving side of a sweep's report (zoo/report/infer_plots.py and the serving tables):
accuracy against latency from the inference rows `zoo bench-infer` stores, and what the
page says when they failed.  Rows are written through the inference store's API."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def small(tmp_path_factory, small_sweep):
    return small_sweep(tmp_path_factory.mktemp("serving") / "small")


@pytest.mark.integration
def test_acc_vs_latency_has_a_point_per_measured_row(small, db_rows, lines_named, gid_fields):
    out, data = small
    figure = data["acc-vs-latency"]
    panel, = figure["panels"]
    assert (panel["xlabel"], panel["ylabel"]) == ("latency at batch 1 (ms, p50 to p99)",
                                                  "test accuracy (fraction)")
    trained = {(r["cell"], r["seed"]): r for r in db_rows(out)}
    measured = [r for r in db_rows(out, "inference") if r["status"] == "ok"]
    points = lines_named(panel, "point ")
    assert len(points) == len(measured) == 15  # 8 cells x 2 backends, one row failed
    by_key = {(f["model"], f["optimizer"], f["seed"], f["backend"]): line
              for line in points for f in [gid_fields(line["gid"])]}
    whiskers = {line["gid"]: line for line in lines_named(panel, "whisker ")}
    for row in measured:
        cell = trained[(row["cell"], row["seed"])]
        line = by_key[(cell["model"], cell["optimizer"], str(row["seed"]), row["backend"])]
        assert (line["x"], line["y"]) == ([row["p50_ms"]], [pytest.approx(cell["test_acc"])])
        whisker = whiskers["whisker " + line["gid"][len("point "):]]
        assert whisker["x"] == [row["p50_ms"], row["p99_ms"]]
    # The same colour per model as in acc-vs-time.
    time_colours = {e["text"]: e["colour"] for e in data["acc-vs-time"]["legends"][0]["entries"]}
    assert figure["legends"][0]["title"] == "colour: model"
    assert {e["text"]: e["colour"] for e in figure["legends"][0]["entries"]} == time_colours


@pytest.mark.integration
def test_serving_rows_that_all_failed_give_their_reasons_and_no_latency_figure(tmp_path, db_rows, zoo,
                                                                               read_page):
    from zoo.bench import infer_store
    from zoo.bench.store import Store
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path / "served"
    write_synthetic_sweep(out, 2, statuses=["ok"])
    reason = "the onnx export disagrees with the trained model on 256 test images: max |diff| 9.44"
    store = Store(out / "results.db")
    try:
        infer_store.ensure_table(store)
        for row in db_rows(out):
            infer_store.record(store, row["cell"], row["seed"], "onnxruntime", "cpu", slug=row["slug"],
                               status="failed", reason=reason)
    finally:
        store.close()
    assert zoo("report", str(out)).returncode == 0
    page = read_page(out / "report.html")
    assert "acc-vs-latency" not in page.figure_data
    assert [r[-1] for r in page.tables["inference-problems-table"]["rows"]] == [reason, reason]
    assert [r[-1] for r in page.tables["inference-table"]["rows"]] == ["failed", "failed"]
    assert "No serving row finished ok" in (out / "report.html").read_text()


@pytest.mark.integration
def test_the_steps_zoo_bench_serve_recorded_are_a_table_of_the_page(tmp_path, db_rows, zoo, read_page):
    from zoo.bench import serve_store
    from zoo.bench.store import Store
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path / "served"
    write_synthetic_sweep(out, 2, statuses=["ok"])
    row = db_rows(out)[0]
    steps = [{"cell": row["cell"], "seed": row["seed"], "backend": "onnxruntime", "device": "cpu",
              "max_batch": 64, "max_delay_ms": 2.0, "images": 1, "datatype": "FP32", "concurrency": c,
              "slug": row["slug"], "requests": 1000 * c, "errors": c - 1, "seconds": 2.0,
              "requests_per_s": 500.0 * c, "images_per_s": 500.0 * c, "p50_ms": 1.5 * c, "p90_ms": 2.0 * c,
              "p99_ms": 3.25 * c} for c in (1, 4)]
    store = Store(out / "results.db")
    try:
        serve_store.record_steps(store, steps)
    finally:
        store.close()
    assert zoo("report", str(out)).returncode == 0
    table = read_page(out / "report.html").tables["serving-table"]
    assert table["headers"][-7:] == ["concurrency", "req/s", "img/s", "p50 ms", "p90 ms", "p99 ms", "errors"]
    assert [r[-7:] for r in table["rows"]] == [
        ["1", "500.0", "500.0", "1.50", "2.00", "3.25", "0/1000"],
        ["4", "2000.0", "2000.0", "6.00", "8.00", "13.00", "3/4000"]]
    assert {r[table["headers"].index("model")] for r in table["rows"]} == {row["model"]}
