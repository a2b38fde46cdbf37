"""Scores the interpolation baseline of another dataset against a validation report's references.

A check's baseline is fitted on the dataset given to ``jaxmicro validate --data``; this fits it
on another one (e.g. the same labels simulated at 128^3) and scores it against the same
references, so two training sets' lookup tables compare on one set of references.

    python experiments/rescore_baseline.py docs/experiments/stop44/default_s12_r24.json data/wide128
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jaxmicro.data import load_dataset
from jaxmicro.generator import METRIC_NAMES, dataset_baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="a validation report (jaxmicro validate --json)")
    parser.add_argument("data", help="dataset whose 3-D training volumes the baseline is fitted on")
    parser.add_argument("--kind", default="quadratic", help="baseline kind [quadratic]")
    args = parser.parse_args()
    report = json.loads(Path(args.report).read_text())
    reference = np.asarray(report["reference"]["mean"], np.float64)
    predicted = dataset_baseline(
        load_dataset(args.data), np.asarray(report["labels"]), report["shape"], args.kind
    )
    if predicted is None:
        raise SystemExit(f"{args.data} has no 3-D training volumes to fit a baseline on")
    error = 100 * np.abs(predicted / reference - 1).mean(axis=0)
    stored = report.get("baseline") or {}
    print(
        f"baseline of {args.data} at {report['shape']}: mean {error.mean():.1f} % "
        + (f"(the report's own: {100 * stored['mean_error']:.1f} %)" if "mean_error" in stored else "")
    )
    for name, value in zip(METRIC_NAMES, error, strict=True):
        old = stored.get("metric_mean_error", {}).get(name)
        print(f"  {name:14s} {value:5.1f} %" + (f"   (report: {100 * old:.1f} %)" if old is not None else ""))


if __name__ == "__main__":
    main()
