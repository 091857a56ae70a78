"""Gradient-boosted teachers for examples/tabular-distill.ts.

    /usr/bin/python3 examples/tabular/make_teacher.py [DATA_DIR] [OUT_DIR]

DATA_DIR holds scikit-learn's breast_cancer.csv (label column "target") and diabetes.csv
(regression target "target"), default /work/shared/data/tabular; OUT_DIR defaults to
examples/dist/tabular. Row i is a test row when i % 5 == 4 (the example splits the same
way); each teacher is fitted on the other rows only, and its outputs for every row, in
file order, are written as float32 .npy:

    breast_cancer_teacher.npy  (rows, 2)  logits [0, log-odds of class 1]: their softmax
                                          is the teacher's predicted probabilities
    diabetes_teacher.npy       (rows, 1)  predictions
"""
import os
import sys

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

SEED = 0


def load(path):
    """Features (rows, columns other than "target") and the target column, as float64."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1)
    label = header.index("target")
    return np.delete(values, label, axis=1), values[:, label]


def split(rows):
    test = np.arange(rows) % 5 == 4
    return ~test, test


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/tabular"
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "dist", "tabular")
    os.makedirs(out_dir, exist_ok=True)

    x, y = load(os.path.join(data_dir, "breast_cancer.csv"))
    train, test = split(len(y))
    clf = GradientBoostingClassifier(random_state=SEED).fit(x[train], y[train].astype(int))
    log_odds = clf.decision_function(x)
    logits = np.stack([np.zeros_like(log_odds), log_odds], axis=1).astype(np.float32)
    np.save(os.path.join(out_dir, "breast_cancer_teacher.npy"), logits)
    accuracy = np.mean((log_odds[test] > 0).astype(int) == y[test].astype(int))
    print(f"breast cancer: gradient boosting, test accuracy {100 * accuracy:.2f}% ({test.sum()} rows)")

    x, y = load(os.path.join(data_dir, "diabetes.csv"))
    train, test = split(len(y))
    reg = GradientBoostingRegressor(random_state=SEED, n_estimators=100, max_depth=2, learning_rate=0.05).fit(x[train], y[train])
    predictions = reg.predict(x).astype(np.float32).reshape(-1, 1)
    np.save(os.path.join(out_dir, "diabetes_teacher.npy"), predictions)
    residual = predictions[test, 0] - y[test]
    rmse = np.sqrt(np.mean(residual**2))
    r2 = 1 - np.sum(residual**2) / np.sum((y[test] - y[test].mean()) ** 2)
    print(f"diabetes: gradient boosting, test RMSE {rmse:.2f}, R² {r2:.4f} ({test.sum()} rows)")


if __name__ == "__main__":
    main()
