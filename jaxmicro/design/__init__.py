"""The design loop: manufacturing labels -> generated microstructures -> measured properties ->
simulated cell -> Bayesian optimisation of the next labels.

:class:`DesignObjective` evaluates labels; :class:`Campaign` optimises them with a crash-safe
log; :func:`run_study` runs one campaign per cell-level power (``jaxmicro design``); :func:`sweep`
evaluates a grid, sharded over devices with :func:`batch_mesh` (``jaxmicro sweep``). See
``docs/design.md``.
"""

from jaxmicro.design.campaign import (
    Campaign,
    CampaignResult,
    CampaignSettings,
    best_evaluation,
)
from jaxmicro.design.objective import (
    OBJECTIVES,
    DesignObjective,
    DesignSettings,
    Evaluation,
    properties_dict,
)
from jaxmicro.design.properties import (
    MicrostructureProperties,
    average_over_seeds,
    characterise_seeds,
    characterise_volumes,
    generate_and_characterise,
    generate_volumes,
)
from jaxmicro.design.records import append_record, read_records, repair_records, write_json_atomic
from jaxmicro.design.sharding import (
    batch_mesh,
    evaluate_sharded,
    generate_and_characterise_sharded,
    measure_sharded,
)
from jaxmicro.design.space import DesignSpace, design_space
from jaxmicro.design.study import StudyResult, campaign_dir, run_study
from jaxmicro.design.sweep import evaluations_to_reach, label_grid, sweep

__all__ = [
    "OBJECTIVES",
    "Campaign",
    "CampaignResult",
    "CampaignSettings",
    "DesignObjective",
    "DesignSettings",
    "DesignSpace",
    "Evaluation",
    "MicrostructureProperties",
    "StudyResult",
    "append_record",
    "average_over_seeds",
    "batch_mesh",
    "best_evaluation",
    "campaign_dir",
    "characterise_seeds",
    "characterise_volumes",
    "design_space",
    "evaluate_sharded",
    "evaluations_to_reach",
    "generate_and_characterise",
    "generate_and_characterise_sharded",
    "generate_volumes",
    "label_grid",
    "measure_sharded",
    "properties_dict",
    "read_records",
    "repair_records",
    "run_study",
    "sweep",
    "write_json_atomic",
]
