// Binding of tml::ScheduleSet: Python configs in, validated compiled schedules out,
// and the batch evaluation with the GIL released.
//
// Configs are read from whatever the user has: a `LearningRate`, a YAML-shaped dict,
// or any object with the four kind attributes (configs of the original tml code).
// Reading them here, once, keeps a single path from user config to compiled schedule.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "tml/batch.hpp"
#include "tml/schedule.hpp"

namespace py = pybind11;

namespace {

std::atomic<unsigned> max_threads{tml::available_cores()};

// ---------------------------------------------------------------------------
// Reading configs
//
// Error text is built only on the error path: the scalar compute_lr reads a config on
// every call and must cost about what the reference's attribute reads cost.

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }
std::string show(py::handle h) { return py::repr(h); }
std::string join(const char* a, const char* b) { return std::string(a) + "." + b; }

// Field names, created once (a static py::object would be released after the interpreter).
// Interned, as Python's own attribute names are: lookups then match keys by identity
// instead of comparing the strings.
py::str interned(const char* name) {
    return py::reinterpret_steal<py::str>(PyUnicode_InternFromString(name));
}

struct Keys {
    py::str constant = interned("constant");
    py::str piecewise_constant = interned("piecewise_constant");
    py::str linear_ramp_to_constant = interned("linear_ramp_to_constant");
    py::str linear_ramp_to_cosine = interned("linear_ramp_to_cosine");
    py::str learning_rate = interned("learning_rate");
    py::str final_learning_rate = interned("final_learning_rate");
    py::str num_ramp_steps = interned("num_ramp_steps");
    py::str final_num_steps = interned("final_num_steps");
    py::str learning_rate_boundaries = interned("learning_rate_boundaries");
    py::str learning_rate_values = interned("learning_rate_values");
    py::object real = py::module_::import("numbers").attr("Real");
    py::object numpy_bool = py::module_::import("numpy").attr("bool_");
};
const Keys& keys() {
    static const Keys* k = new Keys();
    return *k;
}

constexpr const char* kind_list =
    "constant, piecewise_constant, linear_ramp_to_constant, linear_ramp_to_cosine";

// Attribute or key `name` of a config node; None when a dict lacks the key or the
// value is null. An object lacking the attribute is not a config: TypeError.
py::object field(py::handle node, const py::str& name, const char* where) {
    if (PyDict_Check(node.ptr())) {
        PyObject* v = PyDict_GetItemWithError(node.ptr(), name.ptr());  // borrowed
        if (!v && PyErr_Occurred()) throw py::error_already_set();
        return v ? py::reinterpret_borrow<py::object>(v) : py::none();
    }
    PyObject* v = PyObject_GetAttr(node.ptr(), name.ptr());  // new reference
    if (!v) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) throw py::error_already_set();
        PyErr_Clear();
        throw py::type_error(std::string(where) + " must be a dict or an object with attribute '" +
                             std::string(name) + "', got " + show(node) + " (" + type_name(node) +
                             ")");
    }
    return py::reinterpret_steal<py::object>(v);
}

py::object required(py::handle node, const py::str& name, const char* kind) {
    py::object v = field(node, name, kind);
    if (v.is_none()) throw py::value_error(join(kind, std::string(name).c_str()) + " is required");
    return v;
}

// YAML-shaped dicts are checked for unknown keys, as the pydantic models forbid them.
void check_keys(py::handle node, const char* where, std::initializer_list<const char*> allowed) {
    if (!PyDict_Check(node.ptr())) return;
    for (auto item : py::reinterpret_borrow<py::dict>(node)) {
        const std::string key = py::str(item.first);
        bool known = false;
        std::string names;
        for (const char* a : allowed) {
            known |= key == a;
            names += names.empty() ? a : std::string(", ") + a;
        }
        if (!known)
            throw py::value_error(std::string(where) + ": unknown key " + show(item.first) +
                                  " (allowed: " + names + ")");
    }
}

bool is_bool(py::handle h) {
    if (PyLong_CheckExact(h.ptr()) || PyFloat_CheckExact(h.ptr())) return false;
    return PyBool_Check(h.ptr()) || py::isinstance(h, keys().numpy_bool);
}

// A Python number as a double; an int too large for a double is a ValueError naming
// the field, like any other out-of-range value.
template <class Where>
double as_double(py::handle v, const Where& where) {
    const double d = PyFloat_AsDouble(v.ptr());
    if (d == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) throw py::error_already_set();
        PyErr_Clear();
        throw py::value_error(where() + " must be a finite number, got " + show(v));
    }
    return d;
}

bool is_real(py::handle v) {
    return PyFloat_Check(v.ptr()) || PyLong_Check(v.ptr()) || py::isinstance(v, keys().real);
}

// A learning rate: any real number (int, float, numpy scalar), widened to double.
template <class Where>
double read_rate(py::handle v, const Where& where) {
    if (PyFloat_CheckExact(v.ptr())) return PyFloat_AS_DOUBLE(v.ptr());
    if (!PyFloat_CheckExact(v.ptr()) && (is_bool(v) || !is_real(v)))
        throw py::type_error(where() + " must be a number, got " + show(v) + " (" + type_name(v) +
                             ")");
    return as_double(v, where);
}

// An integer field: an int, or an integral real such as 10.0 (taken as 10); 10.5 is
// refused.
template <class Where>
std::int64_t read_int(py::handle v, const Where& where) {
    PyObject* p = v.ptr();
    if (PyLong_CheckExact(p)) {
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(p, &overflow);
        if (overflow == 0) return static_cast<std::int64_t>(i);
    }
    if (is_bool(v) || !is_real(v))
        throw py::type_error(where() + " must be an integer, got " + show(v) + " (" + type_name(v) +
                             ")");
    if (!PyFloat_Check(p) && PyIndex_Check(p)) {
        py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(p));
        if (!index) throw py::error_already_set();
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
        if (overflow != 0)
            throw py::value_error(where() + " must be in [-2**53, 2**53], got " + show(v));
        return static_cast<std::int64_t>(i);
    }
    const double d = as_double(v, where);
    if (!std::isfinite(d) || d != std::floor(d))
        throw py::value_error(where() + " must be an integer, got " + show(v));
    if (std::fabs(d) > 0x1p62)
        throw py::value_error(where() + " must be in [-2**53, 2**53], got " + show(v));
    return static_cast<std::int64_t>(d);
}

double rate_field(py::handle node, const py::str& name, const char* kind) {
    return read_rate(required(node, name, kind),
                     [&] { return join(kind, std::string(name).c_str()); });
}

std::int64_t int_field(py::handle node, const py::str& name, const char* kind) {
    return read_int(required(node, name, kind),
                    [&] { return join(kind, std::string(name).c_str()); });
}

// Reads a list field into `out` (reused between calls: no allocation once warm).
template <class T, class Read>
const std::vector<T>& list_field(py::handle node, const py::str& name, const char* kind, Read read,
                                 std::vector<T>& out) {
    py::object v = required(node, name, kind);
    const auto where = [&] { return join(kind, std::string(name).c_str()); };
    if (PyUnicode_Check(v.ptr()) || PyBytes_Check(v.ptr()) || !PySequence_Check(v.ptr()))
        throw py::type_error(where() + " must be a list, got " + show(v) + " (" + type_name(v) +
                             ")");
    const py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(v.ptr(), ""));
    if (!seq) throw py::error_already_set();
    out.clear();
    // Size and item re-read each time, and the item held: reading a value may run Python
    // code (a __float__) that changes the list.
    for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(seq.ptr()); ++j) {
        const py::object item =
            py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(seq.ptr(), j));
        out.push_back(read(item, [&] { return where() + "[" + std::to_string(j) + "]"; }));
    }
    return out;
}

// Buffers for the lists of a piecewise config, reused from one config to the next.
struct ListBuffers {
    std::vector<std::int64_t> boundaries;
    std::vector<double> values;
};

// Reads one config and appends it, validated, to `set`.
void add_config(tml::ScheduleSet& set, py::handle cfg, ListBuffers& buffers) {
    const Keys& k = keys();
    if (cfg.is_none())
        throw py::type_error(std::string("lr_config is None; expected a LearningRate, a dict or "
                                         "an object with attributes ") +
                             kind_list);
    check_keys(
        cfg, "lr_config",
        {"constant", "piecewise_constant", "linear_ramp_to_constant", "linear_ramp_to_cosine"});
    const py::object constant = field(cfg, k.constant, "lr_config");
    const py::object piecewise = field(cfg, k.piecewise_constant, "lr_config");
    const py::object ramp = field(cfg, k.linear_ramp_to_constant, "lr_config");
    const py::object cosine = field(cfg, k.linear_ramp_to_cosine, "lr_config");
    const int count =
        !constant.is_none() + !piecewise.is_none() + !ramp.is_none() + !cosine.is_none();
    if (count != 1) {
        std::string got;
        for (auto [name, v] : {std::pair{"constant", &constant},
                               {"piecewise_constant", &piecewise},
                               {"linear_ramp_to_constant", &ramp},
                               {"linear_ramp_to_cosine", &cosine}})
            if (!v->is_none()) got += (got.empty() ? "" : ", ") + std::string(name);
        throw py::value_error(std::string("lr_config must set exactly one of ") + kind_list +
                              "; got " + (count == 0 ? "none" : got));
    }

    if (!constant.is_none()) {
        set.add_constant(read_rate(constant, [] { return std::string("constant"); }));
    } else if (!piecewise.is_none()) {
        const char* kind = tml::PiecewiseConstant::name;
        check_keys(piecewise, kind, {"learning_rate_boundaries", "learning_rate_values"});
        set.add_piecewise_constant(
            list_field(piecewise, k.learning_rate_boundaries, kind,
                       read_int<std::function<std::string()>>, buffers.boundaries),
            list_field(piecewise, k.learning_rate_values, kind,
                       read_rate<std::function<std::string()>>, buffers.values));
    } else if (!ramp.is_none()) {
        const char* kind = tml::LinearRampToConstant::name;
        check_keys(ramp, kind, {"learning_rate", "num_ramp_steps"});
        set.add_linear_ramp_to_constant(rate_field(ramp, k.learning_rate, kind),
                                        int_field(ramp, k.num_ramp_steps, kind));
    } else {
        const char* kind = tml::LinearRampToCosine::name;
        check_keys(cosine, kind,
                   {"learning_rate", "final_learning_rate", "num_ramp_steps", "final_num_steps"});
        set.add_linear_ramp_to_cosine(rate_field(cosine, k.learning_rate, kind),
                                      rate_field(cosine, k.final_learning_rate, kind),
                                      int_field(cosine, k.num_ramp_steps, kind),
                                      int_field(cosine, k.final_num_steps, kind));
    }
}

// The YAML-shaped dict of a compiled schedule: pickling, repr and reports rebuild from it.
py::dict to_config(const tml::ScheduleSet& set, std::size_t g) {
    const tml::Tables t = set.tables();
    py::dict d;
    std::visit(
        [&](const auto& s) {
            using K = std::decay_t<decltype(s)>;
            py::dict body;
            if constexpr (std::is_same_v<K, tml::Constant>) {
                d[K::name] = s.learning_rate;
                return;
            } else if constexpr (std::is_same_v<K, tml::PiecewiseConstant>) {
                py::list b, v;
                for (std::size_t j = 0; j < s.count; ++j)
                    b.append(t.boundaries_int[s.boundary_offset + j]);
                for (std::size_t j = 0; j <= s.count; ++j) v.append(t.values[s.value_offset + j]);
                body["learning_rate_boundaries"] = b;
                body["learning_rate_values"] = v;
            } else if constexpr (std::is_same_v<K, tml::LinearRampToConstant>) {
                body["learning_rate"] = s.learning_rate;
                body["num_ramp_steps"] = s.num_ramp_steps;
            } else {
                body["learning_rate"] = s.learning_rate;
                body["final_learning_rate"] = s.final_learning_rate;
                body["num_ramp_steps"] = s.num_ramp_steps.i;
                body["final_num_steps"] = s.final_num_steps.i;
            }
            d[K::name] = body;
        },
        set[g]);
    return d;
}

// ---------------------------------------------------------------------------
// Steps

// One Python scalar step, validated; the reference accepts ints of any size and floats,
// so does this, up to int64 for integers.
struct ScalarStep {
    bool is_int;
    std::int64_t i;
    double d;
};

ScalarStep read_step(py::handle step) {
    PyObject* p = step.ptr();
    if (is_bool(step))
        throw py::type_error("step must be an integer or a float, got " + show(step) + " (bool)");
    if (PyLong_CheckExact(p)) {
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(p, &overflow);
        if (overflow == 0 && i >= 0) return {true, static_cast<std::int64_t>(i), 0.0};
    }
    if (PyLong_Check(p) || (!PyFloat_Check(p) && PyIndex_Check(p))) {
        py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(p));
        if (!index) throw py::error_already_set();
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
        if (overflow > 0)
            throw py::value_error("step must be <= 2**63 - 1, got step=" + show(step));
        if (overflow < 0 || i < 0)
            throw py::value_error("step must be finite and >= 0, got step=" + show(step));
        return {true, static_cast<std::int64_t>(i), 0.0};
    }
    // Floats, and real scalars such as numpy.float32 (widened exactly to double).
    if (PyFloat_Check(p) || py::isinstance(step, keys().real)) {
        const double d = PyFloat_AsDouble(p);
        if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
        if (tml::invalid_step(d))
            throw py::value_error("step must be finite and >= 0, got step=" + show(step));
        return {false, 0, d};
    }
    throw py::type_error("step must be an integer or a float, got " + show(step) + " (" +
                         type_name(step) + ")");
}

double eval_one(const tml::ScheduleSet& set, std::size_t g, const ScalarStep& s) {
    const tml::Tables t = set.tables();
    return std::visit([&](const auto& k) { return s.is_int ? k(s.i, t) : k(s.d, t); }, set[g]);
}

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
    std::size_t bad;
    {
        // Steps and out are C-contiguous buffers owned by numpy arrays the caller holds
        // for the whole call, and `set` is immutable: nothing here touches Python.
        py::gil_scoped_release release;
        bad = tml::evaluate(set, src, n, dst, max_threads.load(), check);
    }
    if (bad != n)
        throw py::value_error("steps[" + position(steps, bad) + "] = " + show(py::cast(src[bad])) +
                              " is not a valid step: steps must be finite and >= 0");
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
    }
    py::list values(groups);
    for (std::size_t g = 0; g < groups; ++g) {
        PyObject* value = PyFloat_FromDouble(eval_one(set, g, s));
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

// The scalar path of compute_lr: reads the config into per-thread scratch buffers (no
// allocation once warm) and evaluates one step. Reading a config may run Python code
// that calls compute_lr again: such a nested call gets buffers of its own.
struct Scratch {
    tml::ScheduleSet set;
    ListBuffers lists;
    bool busy = false;
};

PyObject* scalar_lr(PyObject* cfg, PyObject* step) {
    try {
        thread_local Scratch shared;
        std::unique_ptr<Scratch> nested;
        Scratch& scratch = shared.busy ? *(nested = std::make_unique<Scratch>()) : shared;
        struct Release {
            Scratch& s;
            ~Release() { s.busy = false; }
        } release{scratch};
        scratch.busy = true;
        scratch.set.clear();
        add_config(scratch.set, cfg, scratch.lists);
        return PyFloat_FromDouble(eval_one(scratch.set, 0, read_step(step)));
    } catch (py::error_already_set& e) {
        e.restore();
    } catch (py::builtin_exception& e) {
        e.set_error();
    } catch (std::invalid_argument& e) {
        PyErr_SetString(PyExc_ValueError, e.what());
    } catch (std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return nullptr;
}

// compute_lr itself, as a C function: Python int and float steps (the per-step calls
// of a training loop) are evaluated here without a Python frame; every other call goes
// to the Python implementation registered by tml.optimizers.schedule, which also
// supplies the docstring.
struct ComputeLr {
    PyMethodDef def{"compute_lr", nullptr, METH_FASTCALL | METH_KEYWORDS, nullptr};
    PyObject* general = nullptr;        // the Python compute_lr (strong reference, kept)
    PyObject* schedule_type = nullptr;  // tml.optimizers.Schedule: handled by `general`
    std::string doc;
};
ComputeLr& compute_lr_state() {
    static auto* state = new ComputeLr();  // leaked: lives as long as the function object
    return *state;
}

PyObject* compute_lr(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    ComputeLr& state = compute_lr_state();
    if (nargs == 2 && kwnames == nullptr &&
        (PyLong_CheckExact(args[1]) || PyFloat_CheckExact(args[1])) &&
        state.schedule_type != nullptr &&
        Py_TYPE(args[0]) != reinterpret_cast<PyTypeObject*>(state.schedule_type))
        return scalar_lr(args[0], args[1]);
    if (state.general == nullptr) {  // called before tml.optimizers was imported
        PyObject* mod = PyImport_ImportModule("tml.optimizers.schedule");
        if (mod == nullptr) return nullptr;
        Py_DECREF(mod);
    }
    return PyObject_Vectorcall(state.general, args, static_cast<std::size_t>(nargs), kwnames);
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
                for (const auto& s : set.items()) out.append(tml::kind_name(s));
                return out;
            },
            "Kind name of each schedule.")
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
                return eval_one(set, g, read_step(step));
            },
            py::arg("index"), py::arg("step"), "Schedule `index` at one scalar step.")
        .def("values_at", &values_at, py::arg("step"), py::arg("targets") = py::none(),
             py::arg("key") = "lr",
             "Every schedule at one scalar step as floats; optionally stored in targets[g][key].")
        .def("evaluate", &evaluate, py::arg("steps"), py::arg("out").noconvert(),
             py::arg("scratch") = false,
             "Every schedule at every step into `out`; contiguous int64/float64 steps.");

    ComputeLr& state = compute_lr_state();
    state.def.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&compute_lr));
    m.add_object("compute_lr", py::reinterpret_steal<py::object>(PyCFunction_NewEx(
                                   &state.def, m.ptr(), m.attr("__name__").ptr())));
    m.def(
        "_register_compute_lr",
        [](py::object general, py::object schedule_type, const std::string& doc) {
            ComputeLr& st = compute_lr_state();
            Py_XDECREF(st.general);
            Py_XDECREF(st.schedule_type);
            st.general = general.release().ptr();
            st.schedule_type = schedule_type.release().ptr();
            st.doc = doc;
            st.def.ml_doc = st.doc.c_str();
        },
        py::arg("general"), py::arg("schedule_type"), py::arg("doc"),
        "Installs the Python path and docstring of compute_lr (tml.optimizers.schedule).");
    m.def(
        "set_max_threads", [](unsigned n) { max_threads = n > 0 ? n : tml::available_cores(); },
        py::arg("n"), "Threads a batch call may use; 0 restores the default (all usable cores).");
    m.def("get_max_threads", [] { return max_threads.load(); });
}
