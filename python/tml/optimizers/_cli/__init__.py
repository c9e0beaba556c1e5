"""The parts of `tml-lr` (`tml.optimizers.cli`); private, no stable API.

- `errors`: `UserError`, the one way a user mistake leaves the command;
- `loading`: reading the YAML file and recognising which config it holds;
- `evaluation`: the step range, the evaluation block by block, the CSV and .npy files;
- `output`: the output files, written under a temporary name and renamed when complete;
- `render`: the tables and the terminal plots;
- `png`: the matplotlib chart.

Nothing here lists schedule kinds: they come from `LearningRate.model_fields` and the
compiled schedules' metadata, so a new kind needs no change here.
"""
