// One bind_* function per bound concept; module.cpp only calls them.
#pragma once

#include <pybind11/pybind11.h>

namespace tml_bindings {
void bind_schedule_type(pybind11::module_& m);  // schedule_type.cpp
void bind_compute_lr(pybind11::module_& m);     // compute_lr.cpp
}  // namespace tml_bindings
