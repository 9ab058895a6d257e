import numpy as np
import pandas as pd

from sketch2face.evaluation.report import extremes, histogram_tables


def test_extremes_pick_the_best_median_and_worst_scores():
    scores = np.array([3.0, 9.0, 1.0, 7.0, 5.0, 8.0])
    assert extremes(scores, 2) == {"best": [1, 5], "median": [3, 4], "worst": [0, 2]}


def test_psnr_histogram_has_one_db_bins_centred_on_half_db(tmp_path):
    histogram_tables(pd.DataFrame({"psnr": [12.2, 12.9, 30.0]}), ["psnr"], tmp_path)
    table = pd.read_csv(tmp_path / "psnr.csv")
    assert len(table) == 50 and (table["value"].iloc[0], table["value"].iloc[-1]) == (0.5, 49.5)
    assert table.set_index("value")["images"].loc[[12.5, 30.5]].tolist() == [2, 1]


def test_values_outside_the_range_are_counted_in_the_edge_bins(tmp_path):
    histogram_tables(
        pd.DataFrame({"psnr": [-5.0, 0.1, 49.9, 50.0, 80.0], "fsim": [-0.2, 0.5, 1.0, 1.3, 0.995]}),
        ["psnr", "fsim"],
        tmp_path,
    )
    psnr = pd.read_csv(tmp_path / "psnr.csv")["images"]
    assert (psnr.iloc[0], psnr.iloc[-1], psnr.sum()) == (2, 3, 5)
    fsim = pd.read_csv(tmp_path / "fsim.csv")
    assert (fsim["value"].iloc[0], fsim["value"].iloc[-1]) == (0.01, 0.99)
    assert fsim.set_index("value")["images"].loc[[0.01, 0.51, 0.99]].tolist() == [1, 1, 3]
