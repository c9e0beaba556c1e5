// Reading configs and scalar steps from Python (see convert.hpp).
#include "convert.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "tml/batch.hpp"

namespace tml_bindings {

std::string show(py::handle h) { return py::repr(h); }

namespace {

// ---------------------------------------------------------------------------
// Reading configs
//
// Error text is built only on the error path: the scalar compute_lr reads a config on
// every call and must cost about what the reference's attribute reads cost.

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }
std::string join(const char* a, const char* b) { return std::string(a) + "." + b; }

// Interned, as Python's own attribute names are: lookups then match keys by identity
// instead of comparing the strings.
py::str interned(const char* name) {
    return py::reinterpret_steal<py::str>(PyUnicode_InternFromString(name));
}

// Field names and types, created once (and never released: a static py::object would be
// released after the interpreter).

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

// A number written as a string, as YAML 1.1 loaders leave `1e-3`: parsed as Python's
// int() or, failing that, float() would (pydantic's lax mode takes these too).
template <class Where>
py::object parse_number(py::handle v, const Where& where) {
    PyObject* n = PyLong_FromUnicodeObject(v.ptr(), 10);
    if (!n) {
        PyErr_Clear();
        n = PyFloat_FromString(v.ptr());
    }
    if (!n) {
        PyErr_Clear();
        throw py::value_error(where() + " must be a number, got " + show(v));
    }
    return py::reinterpret_steal<py::object>(n);
}

// A learning rate: any real number (int, float, numpy scalar, numeric string), widened
// to double. A bool is refused: `True` is no learning rate.
template <class Where>
double read_rate(py::handle v, const Where& where) {
    if (PyFloat_CheckExact(v.ptr())) return PyFloat_AS_DOUBLE(v.ptr());
    if (PyUnicode_Check(v.ptr())) return read_rate(parse_number(v, where), where);
    if (is_bool(v) || !is_real(v))
        throw py::type_error(where() + " must be a number, got " + show(v) + " (" + type_name(v) +
                             ")");
    return as_double(v, where);
}

// An integer field: an int, an integral real such as 10.0 (taken as 10; 10.5 is
// refused), or a string of one. Values beyond int64 are refused here, the field's own
// range by the core.
template <class Where>
std::int64_t read_int(py::handle v, const Where& where) {
    PyObject* p = v.ptr();
    if (PyLong_CheckExact(p)) {
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(p, &overflow);
        if (overflow == 0) return static_cast<std::int64_t>(i);
    }
    if (PyUnicode_Check(p)) return read_int(parse_number(v, where), where);
    if (is_bool(v) || !is_real(v))
        throw py::type_error(where() + " must be an integer, got " + show(v) + " (" + type_name(v) +
                             ")");
    const auto too_large = [&] {
        return py::value_error(where() + " must be an integer of magnitude at most 2**53, got " +
                               show(v));
    };
    if (!PyFloat_Check(p) && PyIndex_Check(p)) {
        py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(p));
        if (!index) throw py::error_already_set();
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
        if (overflow != 0) throw too_large();
        return static_cast<std::int64_t>(i);
    }
    const double d = as_double(v, where);
    if (!std::isfinite(d) || d != std::floor(d))
        throw py::value_error(where() + " must be an integer, got " + show(v));
    if (std::fabs(d) > 0x1p62) throw too_large();
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

}  // namespace

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

}  // namespace tml_bindings
