"""Are the fresh-seed confirmations' error bars right? Each against its label's 40-seed value.

    python experiments/confirmation_calibration.py docs/experiments/stop57/calibration_stop57_logs.json \
        --logs-from runs/cs57 --logs-to runs/cs58

Reads the 40-seed values (seeds 1000-1039) that ``posterior_calibration_check.py`` wrote for each
campaign's recommended label, and the ``confirmation`` records of the same campaigns' logs
(``--logs-from``/``--logs-to`` rewrite the folder, e.g. to the campaigns whose confirmations were
extended): per campaign z = (confirmation - 40-seed value) / sqrt(its error^2 + the 40 seeds'
error^2), for the first block of 8 fresh seeds and for the last (adaptive) one. Campaigns run
twice with the same settings count once.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from jaxmicro.design.campaign import LOG_NAME
from jaxmicro.design.records import read_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calibration", type=Path, help="posterior_calibration_check.py's --out")
    parser.add_argument("--logs-from", default="", help="folder prefix in the calibration file")
    parser.add_argument("--logs-to", default="", help="... replaced by this one")
    args = parser.parse_args()
    rows, seen, z = json.loads(args.calibration.read_text())["rows"], set(), {"first": [], "last": []}
    for row in rows:
        said = row["shared_seeds"]
        key = json.dumps([row["settings"], np.round(said["label"], 6).tolist()])
        if key in seen:
            continue
        seen.add(key)
        campaign = row["campaign"]
        folder = Path(campaign.replace(args.logs_from, args.logs_to, 1) if args.logs_from else campaign)
        found = [r for r in read_records(folder / LOG_NAME) if r.get("type") == "confirmation"
                 and np.allclose([r["labels"]["am_wt"], r["labels"]["porosity"]], said["label"][:2],
                                 atol=1e-6)]
        if not found:
            print(f"{folder}: no confirmation of the recommended label; skipped")
            continue
        truth, truth_error = said["truth_40"], said["truth_40_error"]
        line = f"{folder}: 40 seeds {truth:.1f} +- {truth_error:.2f}"
        for name, record in (("first", found[0]), ("last", found[-1])):
            value, error = record["objective"], record["objective_standard_error"]
            z[name].append((value - truth) / np.hypot(error, truth_error))
            line += f"; {name} {value:.1f} +- {error:.2f} ({len(record['seeds'])} seeds) z {z[name][-1]:+.2f}"
        print(line)
    for name, values in z.items():
        values = np.array(values)
        outside = int(np.sum(abs(values) > 2.36))
        print(f"{name} block: rms z {np.sqrt(np.mean(values ** 2)):.2f}, below the 40 seeds in "
              f"{int(np.sum(values < 0))} of {len(values)}, |z| > 2.36 (t, 7 dof) in {outside}")


if __name__ == "__main__":
    main()
