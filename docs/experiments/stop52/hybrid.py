"""A hybrid model: a given particle law (JSON of the 4 PARTICLE_STAGE fields) with the simulator's own
CBD placement, saved as a stochastic-geometry model folder, to judge a particle law alone at 128^3.

Usage: python docs/experiments/stop52/hybrid.py LAW.json runs/hyb_X   (then `jaxmicro validate
       --checkpoint runs/hyb_X --data data/wide64 --size 128 --seeds 3 --reference-seeds 3 --json X.json`)
"""

import dataclasses
import json
import sys

from jaxmicro.generator import stochastic as st

law = json.load(open(sys.argv[1]))
out = sys.argv[2]
m = st.load_simulator_model("data/wide64")
coef = dict(m.coefficients)
kinds = dict(m.kinds)
for k, v in law.items():
    coef[k] = (float(v),)
    kinds[k] = "constant"
st.save_geometry_model(
    dataclasses.replace(
        m, coefficients=coef, kinds=kinds, provenance={"hybrid": "law " + sys.argv[1] + " + simulator CBD"}
    ),
    out,
)
print("saved", out)
