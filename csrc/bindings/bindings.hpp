// One bind_* function per bound concept; module.cpp only calls them.
#pragma once

#include <pybind11/pybind11.h>

void bind_schedules(pybind11::module_& m);
void bind_compute_lr(pybind11::module_& m);
