// tml._core.ScheduleSet: compiled schedules as a Python type, the base class of
// tml.optimizers.Schedule and Schedules (see schedule_type.cpp).
#pragma once

#include <pybind11/pybind11.h>

#include <memory>

#include "tml/schedule_set.hpp"

namespace tml_bindings {

void bind_schedule_type(pybind11::module_& m);

// The compiled schedule of a single-schedule instance (tml.optimizers.Schedule), or nullptr.
const tml::ScheduleSet* single_schedule(PyObject* obj);

// A Python int or float step given to schedule 0 of `set`: the float result, or nullptr
// with a Python error set. The scalar path of Schedule.__call__ and compute_lr.
PyObject* scalar_value(const tml::ScheduleSet& set, PyObject* step);

}  // namespace tml_bindings
