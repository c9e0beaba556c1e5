// Binding of tml::ScheduleSet: configs in, validated compiled schedules out, and the
// batch evaluation with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "tml/batch.hpp"
#include "tml/schedule_set.hpp"

namespace py = pybind11;
using namespace tml_bindings;

namespace {

std::atomic<unsigned> max_threads{tml::available_cores()};

std::string position(const py::array& steps, std::size_t flat) {
    std::string pos;
    for (py::ssize_t dim = steps.ndim() - 1; dim >= 0; --dim) {
        const auto extent = static_cast<std::size_t>(steps.shape(dim));
        pos = std::to_string(flat % extent) + (pos.empty() ? "" : ", ") + pos;
        flat /= extent;
    }
    return pos;
}

template <class Step, class Out>
void evaluate_typed(const tml::ScheduleSet& set, const py::array& steps, py::array& out,
                    tml::Check check) {
    const auto* src = static_cast<const Step*>(steps.data());
    auto* dst = static_cast<Out*>(out.mutable_data());
    const auto n = static_cast<std::size_t>(steps.size());
    // The calling thread checks for a pending signal (Ctrl-C) between chunks, holding
    // the GIL only for that check.
    const tml::Interrupt interrupt{[] {
        py::gil_scoped_acquire gil;
        return PyErr_CheckSignals() != 0;
    }};
    tml::Options options;
    options.max_threads = max_threads.load();
    options.check = check;
    options.interrupt = &interrupt;
    tml::Outcome outcome;
    {
        // Steps and out are C-contiguous buffers owned by numpy arrays the caller holds
        // for the whole call, and `set` is immutable: nothing here touches Python.
        py::gil_scoped_release release;
        outcome = tml::evaluate(set, src, n, dst, options);
    }
    switch (outcome.status) {
        case tml::Outcome::ok:
            return;
        case tml::Outcome::interrupted:
            throw py::error_already_set();
        case tml::Outcome::invalid_step:
            throw py::value_error("steps[" + position(steps, outcome.index) +
                                  "] = " + show(py::cast(src[outcome.index])) +
                                  " is not a valid step: steps must be finite and >= 0");
        case tml::Outcome::refused_step:
            throw_refused("steps[" + position(steps, outcome.index) + "]",
                          py::cast(src[outcome.index]));
    }
}

// Evaluates every schedule at every step into `out` (shape (G, *steps.shape) flattened).
// Both arrays must already be C-contiguous with the dtypes checked here: the Python
// layer converts once, so that nothing is copied silently and `out` is the caller's.
// A caller's `out` is left untouched by an invalid step; a fresh `scratch` one is
// checked block by block as it is written, saving a pass over the steps.
void evaluate(const tml::ScheduleSet& set, const py::array& steps, py::array& out, bool scratch) {
    const auto check = scratch ? tml::Check::while_writing : tml::Check::before_writing;
    if (!(steps.flags() & py::array::c_style) || !(out.flags() & py::array::c_style))
        throw py::value_error("steps and out must be C-contiguous");
    if (!out.writeable()) throw py::value_error("out is read-only");
    if (static_cast<std::size_t>(out.size()) != set.size() * static_cast<std::size_t>(steps.size()))
        throw py::value_error("out has " + std::to_string(out.size()) + " elements, expected " +
                              std::to_string(set.size() * steps.size()));
    const char s = steps.dtype().kind();
    const bool s64 = steps.dtype().itemsize() == 8;
    const char o = out.dtype().kind();
    const auto osize = out.dtype().itemsize();
    if (!(s64 && (s == 'i' || s == 'f')))
        throw py::type_error("steps must be int64 or float64 here, got " +
                             std::string(py::str(steps.dtype())));
    if (o != 'f' || (osize != 8 && osize != 4))
        throw py::type_error("out must be float64 or float32, got " +
                             std::string(py::str(out.dtype())));
    if (s == 'i') {
        if (osize == 8)
            evaluate_typed<std::int64_t, double>(set, steps, out, check);
        else
            evaluate_typed<std::int64_t, float>(set, steps, out, check);
    } else {
        if (osize == 8)
            evaluate_typed<double, double>(set, steps, out, check);
        else
            evaluate_typed<double, float>(set, steps, out, check);
    }
}

// Every schedule's value at one scalar step, as a list of Python floats; with `targets`
// (a sequence of mappings, e.g. an optimizer's param_groups), also stores value g as
// targets[g][key]. One loop in C: per-group Python work is what costs at 10,000 groups.
py::list values_at(const tml::ScheduleSet& set, py::handle step, py::object targets,
                   const py::str& key) {
    const ScalarStep s = read_step(step);
    const std::size_t groups = set.size();
    py::object seq;
    if (!targets.is_none()) {
        seq = py::reinterpret_steal<py::object>(
            PySequence_Fast(targets.ptr(), "targets must be a sequence"));
        if (!seq) throw py::error_already_set();
        if (static_cast<std::size_t>(PySequence_Fast_GET_SIZE(seq.ptr())) != groups)
            throw py::value_error(
                "targets has " + std::to_string(PySequence_Fast_GET_SIZE(seq.ptr())) +
                " items, expected one per schedule (" + std::to_string(groups) + ")");
        // All checked before any is written: a refused call changes nothing.
        static const auto* mutable_mapping =
            new py::object(py::module_::import("collections.abc").attr("MutableMapping"));
        for (std::size_t g = 0; g < groups; ++g) {
            py::handle target = PySequence_Fast_GET_ITEM(seq.ptr(), g);
            if (!PyDict_Check(target.ptr()) && !py::isinstance(target, *mutable_mapping))
                throw py::type_error("targets[" + std::to_string(g) +
                                     "] must be a mapping (a parameter group dict), got " +
                                     show(target));
        }
    }
    // Every group at the step in one by-kind pass, checked before anything is stored.
    thread_local std::vector<double> results;
    results.resize(groups);
    tml::Options options;  // one thread: the Python work below dominates anyway
    const tml::Outcome outcome = s.is_int ? tml::evaluate(set, &s.i, 1, results.data(), options)
                                          : tml::evaluate(set, &s.d, 1, results.data(), options);
    if (outcome.status != tml::Outcome::ok) throw_refused("step", step);
    py::list values(groups);
    for (std::size_t g = 0; g < groups; ++g) {
        PyObject* value = PyFloat_FromDouble(results[g]);
        if (!value) throw py::error_already_set();
        PyList_SET_ITEM(values.ptr(), static_cast<Py_ssize_t>(g), value);  // steals
        if (seq && PyObject_SetItem(PySequence_Fast_GET_ITEM(seq.ptr(), g), key.ptr(), value) != 0)
            throw py::error_already_set();
    }
    return values;
}

// Compiles a sequence of configs. With `labelled`, errors name the schedule: by
// `names[g]` when names are given (a mapping of configs), else by position.
tml::ScheduleSet compile(const py::sequence& configs, const py::object& names, bool labelled) {
    tml::ScheduleSet set;
    ListBuffers buffers;
    const std::size_t n = configs.size();
    for (std::size_t g = 0; g < n; ++g) {
        const auto label = [&] {
            return "schedule " +
                   (names.is_none() ? std::to_string(g) : show(py::sequence(names)[g])) + ": ";
        };
        try {
            add_config(set, configs[g], buffers);
        } catch (py::type_error& e) {
            if (!labelled) throw;
            throw py::type_error(label() + e.what());
        } catch (py::value_error& e) {
            if (!labelled) throw;
            throw py::value_error(label() + e.what());
        } catch (std::invalid_argument& e) {
            if (!labelled) throw;
            throw py::value_error(label() + e.what());
        }
    }
    return set;
}

}  // namespace

void bind_schedules(py::module_& m) {
    py::class_<tml::ScheduleSet>(m, "ScheduleSet",
                                 "Validated, compiled schedules; immutable and thread-safe.")
        .def(py::init(&compile), py::arg("configs"), py::arg("names") = py::none(),
             py::arg("labelled") = false)
        .def("__len__", &tml::ScheduleSet::size)
        .def(
            "kinds",
            [](const tml::ScheduleSet& set) {
                py::list out;
                for (std::size_t g = 0; g < set.size(); ++g) out.append(set.kind_name(g));
                return out;
            },
            "Kind name of each schedule.")
        .def(
            "breakpoints",
            [](const tml::ScheduleSet& set) {
                py::list out;
                for (std::size_t g = 0; g < set.size(); ++g)
                    out.append(py::tuple(py::cast(set.breakpoints(g))));
                return out;
            },
            "Steps where each schedule's formula changes (the first 64 for periodic kinds).")
        .def(
            "flat_from",
            [](const tml::ScheduleSet& set) {
                py::list out;
                for (std::size_t g = 0; g < set.size(); ++g) out.append(py::cast(set.flat_from(g)));
                return out;
            },
            "The step from which each schedule is constant, or None if it never is.")
        .def(
            "periods",
            [](const tml::ScheduleSet& set) {
                py::list out;
                for (std::size_t g = 0; g < set.size(); ++g) out.append(py::cast(set.period(g)));
                return out;
            },
            "The cycle length of each periodic schedule, or None.")
        .def(
            "configs",
            [](const tml::ScheduleSet& set) {
                py::list out;
                for (std::size_t g = 0; g < set.size(); ++g) out.append(to_config(set, g));
                return out;
            },
            "YAML-shaped dict of each schedule.")
        .def(
            "at",
            [](const tml::ScheduleSet& set, std::size_t g, py::handle step) {
                if (g >= set.size()) throw py::index_error("schedule index out of range");
                const double v = eval_one(set, g, read_step(step));
                if (std::isnan(v)) throw_refused("step", step);
                return v;
            },
            py::arg("index"), py::arg("step"), "Schedule `index` at one scalar step.")
        .def("values_at", &values_at, py::arg("step"), py::arg("targets") = py::none(),
             py::arg("key") = "lr",
             "Every schedule at one scalar step as floats; optionally stored in targets[g][key].")
        .def("evaluate", &evaluate, py::arg("steps"), py::arg("out").noconvert(),
             py::arg("scratch") = false,
             "Every schedule at every step into `out`; contiguous int64/float64 steps.");

    m.def(
        "set_max_threads", [](unsigned n) { max_threads = n > 0 ? n : tml::available_cores(); },
        py::arg("n"), "Threads a batch call may use; 0 restores the default (all usable cores).");
    m.def("get_max_threads", [] { return max_threads.load(); });
    m.def("kind_fields", &kind_fields,
          "Every kind's config fields (name, type, default, range), as the core declares them.");
    m.def("_register_models", &register_models, py::arg("learning_rate"), py::arg("kinds"),
          "Names the package's pydantic config classes, whose instances are read directly.");
}
