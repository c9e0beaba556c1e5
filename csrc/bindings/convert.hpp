// Reading Python input for the core: learning-rate configs (a LearningRate, a
// YAML-shaped dict or any object with the four kind attributes) and scalar steps.
// Shared by the ScheduleSet binding and the scalar compute_lr.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tml/schedule.hpp"

namespace tml_bindings {

namespace py = pybind11;

// Buffers for the lists of a piecewise config, reused from one config to the next.
struct ListBuffers {
    std::vector<std::int64_t> boundaries;
    std::vector<double> values;
};

// Reads one config and appends it, validated, to `set`. Errors name the field and value:
// TypeError for a wrong type, ValueError for a wrong value.
void add_config(tml::ScheduleSet& set, py::handle cfg, ListBuffers& buffers);

// The YAML-shaped dict of schedule g: pickling, repr and reports rebuild from it.
py::dict to_config(const tml::ScheduleSet& set, std::size_t g);

// One scalar step (int, float or numpy scalar), validated: ints up to 2**63 - 1 stay
// integers, as the reference's Python ints do; floats must be finite and >= 0.
struct ScalarStep {
    bool is_int;
    std::int64_t i;
    double d;
};
ScalarStep read_step(py::handle step);

// Schedule g of `set` at one step.
inline double eval_one(const tml::ScheduleSet& set, std::size_t g, const ScalarStep& s) {
    const tml::Tables t = set.tables();
    return std::visit([&](const auto& k) { return s.is_int ? k(s.i, t) : k(s.d, t); }, set[g]);
}

std::string show(py::handle h);  // repr(h), for error messages

}  // namespace tml_bindings
