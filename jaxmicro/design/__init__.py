"""The design loop: manufacturing labels -> generated microstructures -> measured properties ->
simulated cell -> Bayesian optimisation of the next labels.

:class:`DesignObjective` evaluates labels; :class:`Campaign` optimises them with a crash-safe
log; :func:`refine` takes gradient steps from its optimum; :func:`run_study` runs one campaign per
cell-level power (``jaxmicro design``); :func:`sweep`
evaluates a grid, sharded over devices with :func:`batch_mesh` (``jaxmicro sweep``). See
``docs/design.md``.
"""

from jaxmicro.design.campaign import (
    Campaign,
    CampaignResult,
    CampaignSettings,
    best_evaluation,
)
from jaxmicro.design.gradient import LabelGradient, label_gradient
from jaxmicro.design.objective import (
    OBJECTIVES,
    DesignObjective,
    DesignSettings,
    Evaluation,
)
from jaxmicro.design.properties import (
    cathode_properties,
    characterise_seeds,
    generate_and_characterise,
    generate_volumes,
    measurement_row,
)
from jaxmicro.design.records import append_record, read_records, repair_records, write_json_atomic
from jaxmicro.design.refine import RefineResult, RefineSettings, refine
from jaxmicro.design.report import write_report
from jaxmicro.design.sharding import (
    batch_mesh,
    evaluate_sharded,
    generate_and_characterise_sharded,
    measure_sharded,
)
from jaxmicro.design.space import CELL_VARIABLES, DesignSpace, design_space
from jaxmicro.design.study import StudyResult, campaign_dir, run_study
from jaxmicro.design.sweep import evaluations_to_reach, label_grid, sweep
from jaxmicro.design.table import write_results_csv

__all__ = [
    "CELL_VARIABLES",
    "OBJECTIVES",
    "Campaign",
    "CampaignResult",
    "CampaignSettings",
    "DesignObjective",
    "DesignSettings",
    "DesignSpace",
    "Evaluation",
    "LabelGradient",
    "RefineResult",
    "RefineSettings",
    "StudyResult",
    "append_record",
    "batch_mesh",
    "best_evaluation",
    "campaign_dir",
    "cathode_properties",
    "characterise_seeds",
    "design_space",
    "evaluate_sharded",
    "evaluations_to_reach",
    "generate_and_characterise",
    "generate_and_characterise_sharded",
    "generate_volumes",
    "label_gradient",
    "label_grid",
    "measure_sharded",
    "measurement_row",
    "read_records",
    "refine",
    "repair_records",
    "run_study",
    "sweep",
    "write_json_atomic",
    "write_report",
    "write_results_csv",
]
