// Reading Python input for the core: learning-rate configs (a LearningRate, a
// YAML-shaped dict or any object with the kind attributes) and scalar steps, and writing
// compiled schedules back as YAML-shaped dicts. Every kind is read and written from its
// field list (csrc/tml/fields.hpp); nothing here names a kind.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tml/schedule_set.hpp"

namespace tml_bindings {

namespace py = pybind11;

// Buffers for list fields, reused from one config to the next.
struct ListBuffers {
    std::vector<std::int64_t> ints;
    std::vector<double> reals;
};

// Reads one config and appends it, validated, to `set` as its next member. Errors name
// the field's path and value: TypeError for a wrong type, ValueError for a wrong value.
void add_config(tml::ScheduleSet& set, py::handle cfg, ListBuffers& buffers);

// One config at one step, as compute_lr(cfg, step) with a Python scalar step: the config
// is read into `scratch` (cleared first; reused so that nothing is allocated once warm)
// and evaluated where it was read, with its fast formula when `fast` (exact=False).
// Config errors come before step errors.
double config_value(tml::ScheduleSet& scratch, ListBuffers& buffers, py::handle cfg,
                    py::handle step, bool fast = false);

// The YAML-shaped dict of member g: pickling, repr and reports rebuild from it.
py::object to_config(const tml::ScheduleSet& set, std::size_t g);

// Every kind's fields, for `_core.kind_fields()`.
py::dict kind_fields();

// Tells the reader which classes are the package's own pydantic models (LearningRate and
// each kind's model): their instances are read from their __dict__, without the
// attribute protocol, since a field of a model is always an instance attribute.
void register_models(py::handle learning_rate, py::dict kinds);

// One scalar step (int, float or numpy scalar), validated: ints up to 2**63 - 1 stay
// integers, as the reference's Python ints do; floats must be finite and >= 0.
struct ScalarStep {
    bool is_int;
    std::int64_t i;
    double d;
};
ScalarStep read_step(py::handle step);

// Member g of `set` at one step (NaN where the schedule refuses the step).
inline double eval_one(const tml::ScheduleSet& set, std::size_t g, const ScalarStep& s) {
    return s.is_int ? set.at(g, s.i) : set.at(g, s.d);
}

// The ValueError of a step that a schedule refused (a float step >= 2**63 given to a
// kind that counts its cycles exactly); `where` names the step ("step", "steps[3]").
[[noreturn]] void throw_refused(const std::string& where, py::handle value);

std::string show(py::handle h);  // repr(h), for error messages

}  // namespace tml_bindings
