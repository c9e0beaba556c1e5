// The private compiled module `tml._core`. Users import the Python API in tml.optimizers.
#include <pybind11/pybind11.h>

#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "Compiled learning-rate schedules (private: use tml.optimizers).";
    tml_bindings::bind_schedule_type(m);
    tml_bindings::bind_compute_lr(m);
}
