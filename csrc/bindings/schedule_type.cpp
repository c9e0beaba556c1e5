// tml._core.ScheduleSet, the compiled schedules as a Python type, written against the
// CPython API rather than pybind11 for two reasons:
//
// - Safety by construction: the only way to get an instance is tp_new, which compiles
//   and validates the configs; there is no __setstate__ and no way to replace the C++
//   part, so no object (nor a crafted pickle) can be used half-built. A second
//   __init__ on a live object is refused.
// - The per-step path: calling a Schedule with a Python int or float, a numpy int64 or
//   float64 scalar, or a contiguous int64/float64 numpy array, with no option or an
//   `out` array written in place, is handled here without a Python frame (vectorcall);
//   every other call goes to the subclass's `_call`, the general Python path. Both end
//   in the same functions below, so results and errors are the same on either path.
//
// tml.optimizers.Schedule and Schedules subclass it (no __dict__, immutable).
#include "schedule_type.hpp"

#define PY_ARRAY_UNIQUE_SYMBOL tml_ARRAY_API
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <pybind11/pybind11.h>
#include <structmember.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "tml/batch.hpp"

namespace py = pybind11;

namespace tml_bindings {
namespace {

std::atomic<unsigned> max_threads{tml::available_cores()};

// Work (in the core's cost units, about a nanosecond each) below which a call keeps the
// GIL: releasing and taking it back costs more than such a call does.
constexpr std::size_t keep_gil_below = std::size_t{1} << 14;

// Schedule 0 of a set at one step, compiled for its kind: a single Schedule's scalar
// call jumps straight to its formula.
using FirstValue = double (*)(const tml::ScheduleSet&, const ScalarStep&);
template <class K, bool fast>
double first_value(const tml::ScheduleSet& set, const ScalarStep& s) {
    const K& kind = set.pool().of<K>()[set[0].index];
    const tml::Context c = set.context();
    if constexpr (fast)
        return s.is_int ? tml::fast_mode_value(kind, s.i, c) : tml::fast_mode_value(kind, s.d, c);
    else
        return s.is_int ? kind(s.i, c) : kind(s.d, c);
}

struct SetObject {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    FirstValue first;  // for a single schedule, else nullptr
    std::shared_ptr<const tml::ScheduleSet> set;
    PyObject* names;  // a tuple of the schedules' names, or nullptr (None)
    int single;       // Schedule: one schedule, results shaped like the steps
    int initialized;
};

PyTypeObject* set_type = nullptr;

SetObject* as_set(PyObject* self) { return reinterpret_cast<SetObject*>(self); }

// Runs `body` and turns a C++ exception into the Python error it stands for; returns
// `fallback` then.
template <class Body, class R>
R guarded(Body&& body, R fallback) {
    try {
        return body();
    } catch (py::error_already_set& e) {
        e.restore();
    } catch (py::builtin_exception& e) {
        e.set_error();
    } catch (tml::ConfigError& e) {
        PyErr_SetString(PyExc_ValueError, e.what());
    } catch (std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return fallback;
}

// ---------------------------------------------------------------------------------------
// Evaluation, shared by the fast paths and the general path's private methods.

// How an error names a step: `steps[2, 1]` in an array, `step` for a 0-d one (as the
// Python layer's _where).
std::string where(PyArrayObject* steps, std::size_t flat) {
    if (PyArray_NDIM(steps) == 0) return "step";
    std::string pos;
    for (int dim = PyArray_NDIM(steps) - 1; dim >= 0; --dim) {
        const auto extent = static_cast<std::size_t>(PyArray_DIM(steps, dim));
        pos = std::to_string(flat % extent) + (pos.empty() ? "" : ", ") + pos;
        flat /= extent;
    }
    return "steps[" + pos + "]";
}

// Runs evaluate(options) (a tml::evaluate call over n steps), with the GIL released
// unless the work is too small to be worth it. The calling thread checks for a pending
// signal (Ctrl-C) between chunks, holding the GIL only for that check.
template <class Evaluate>
tml::Outcome run_evaluation(const tml::ScheduleSet& set, std::size_t n, tml::Check check,
                            const Evaluate& evaluate) {
    const tml::Interrupt interrupt{[] {
        py::gil_scoped_acquire gil;
        return PyErr_CheckSignals() != 0;
    }};
    tml::Options options;
    options.max_threads = max_threads.load();
    options.check = check;
    if (n * std::max<std::size_t>(set.size(), 1) * set.cost() < keep_gil_below)
        return evaluate(options);
    options.interrupt = &interrupt;
    // Steps and out are buffers the caller holds for the whole call, and `set` is
    // immutable (and kept alive by the caller's reference to its owner): nothing here
    // touches Python.
    py::gil_scoped_release release;
    return evaluate(options);
}

template <class Step, class Out>
void evaluate_typed(const tml::ScheduleSet& set, PyArrayObject* steps, Out* dst, tml::Check check) {
    const auto* src = static_cast<const Step*>(PyArray_DATA(steps));
    const auto n = static_cast<std::size_t>(PyArray_SIZE(steps));
    const tml::Outcome outcome = run_evaluation(
        set, n, check, [&](const tml::Options& o) { return tml::evaluate(set, src, n, dst, o); });
    switch (outcome.status) {
        case tml::Outcome::ok:
            return;
        case tml::Outcome::interrupted:
            throw py::error_already_set();
        case tml::Outcome::invalid_step:
            throw py::value_error(where(steps, outcome.index) + " = " +
                                  show(py::cast(src[outcome.index])) +
                                  " is not a valid step: steps must be finite and >= 0");
        case tml::Outcome::refused_step:
            throw_refused(where(steps, outcome.index), py::cast(src[outcome.index]));
    }
}

bool is_dtype(PyArrayObject* a, int type_num) {
    return PyArray_TYPE(a) == type_num && PyArray_ISNOTSWAPPED(a);
}

// f(out's data as double* or float*), the two result dtypes; any other is a TypeError.
template <class F>
auto with_out_data(PyArrayObject* out, const F& f) {
    if (is_dtype(out, NPY_FLOAT64)) return f(static_cast<double*>(PyArray_DATA(out)));
    if (is_dtype(out, NPY_FLOAT32)) return f(static_cast<float*>(PyArray_DATA(out)));
    throw py::type_error("out must be native float64 or float32");
}

void check_out_size(PyArrayObject* out, std::size_t expected) {
    if (static_cast<std::size_t>(PyArray_SIZE(out)) != expected)
        throw py::value_error("out has " + std::to_string(PyArray_SIZE(out)) +
                              " elements, expected " + std::to_string(expected));
}

// Every schedule at every step into `out` (shape (G, *steps.shape), or steps.shape for
// one schedule, flattened). Both arrays must already be C-contiguous, aligned and native
// with the dtypes checked here: the Python layer converts once, so nothing is copied
// silently and `out` is the caller's. A caller's `out` is left untouched by an invalid
// step; a fresh `scratch` one is checked block by block as it is written.
void evaluate_into(const tml::ScheduleSet& set, PyArrayObject* steps, PyArrayObject* out,
                   bool scratch) {
    const auto check = scratch ? tml::Check::while_writing : tml::Check::before_writing;
    if (!PyArray_ISCARRAY_RO(steps))
        throw py::value_error("steps must be C-contiguous and aligned");
    if (!PyArray_ISCARRAY(out))
        throw py::value_error("out must be C-contiguous, aligned and writeable");
    check_out_size(out, set.size() * static_cast<std::size_t>(PyArray_SIZE(steps)));
    const bool int_steps = is_dtype(steps, NPY_INT64);
    if (!int_steps && !is_dtype(steps, NPY_FLOAT64))
        throw py::type_error("steps must be native int64 or float64 here");
    with_out_data(out, [&](auto* dst) {
        if (int_steps)
            evaluate_typed<std::int64_t>(set, steps, dst, check);
        else
            evaluate_typed<double>(set, steps, dst, check);
    });
}

// Every schedule at the steps start + i * stride, i < n, into `out` (G * n elements, C
// order). Every step must be in [0, 2**63 - 1] (checked here; the Python layer names the
// first bad one first), so none is invalid, and an int step is never refused.
void evaluate_range_into(const tml::ScheduleSet& set, std::int64_t start, std::int64_t stride,
                         std::size_t n, PyArrayObject* out) {
    if (!PyArray_ISCARRAY(out))
        throw py::value_error("out must be C-contiguous, aligned and writeable");
    check_out_size(out, set.size() * n);
    // The steps run monotonically from the first to the last: both in range is enough.
    std::int64_t span = 0, last = start;
    if (n > 0 &&
        (start < 0 || __builtin_mul_overflow(static_cast<std::int64_t>(n - 1), stride, &span) ||
         __builtin_add_overflow(start, span, &last) || last < 0))
        throw py::value_error("a range of steps must stay in [0, 2**63 - 1]");
    const tml::Outcome outcome = with_out_data(out, [&](auto* dst) {
        return run_evaluation(set, n, tml::Check::before_writing, [&](const tml::Options& o) {
            return tml::evaluate_range(set, start, stride, n, dst, o);
        });
    });
    if (outcome.status == tml::Outcome::interrupted) throw py::error_already_set();
    if (outcome.status != tml::Outcome::ok)  // no valid int step is invalid or refused
        throw std::logic_error("a range step was refused");
}

// Every schedule at one scalar step into `out` (G elements), errors as a scalar's.
void evaluate_scalar_into(const tml::ScheduleSet& set, py::handle step, PyArrayObject* out) {
    const ScalarStep s = read_step(step);
    if (!PyArray_ISCARRAY(out) || static_cast<std::size_t>(PyArray_SIZE(out)) != set.size())
        throw py::value_error("out must be a C-contiguous array of one element per schedule");
    tml::Options options;  // one step: a pass over G schedules, on this thread
    options.max_threads = max_threads.load();
    const tml::Outcome outcome = with_out_data(out, [&](auto* dst) {
        return s.is_int ? tml::evaluate(set, &s.i, 1, dst, options)
                        : tml::evaluate(set, &s.d, 1, dst, options);
    });
    if (outcome.status != tml::Outcome::ok) throw_refused("step", step);
}

// ---------------------------------------------------------------------------------------
// Construction.

std::shared_ptr<tml::ScheduleSet> compile(PyObject* configs, PyObject* names, bool labelled,
                                          bool fast) {
    auto set = std::make_shared<tml::ScheduleSet>();
    set->set_fast(fast);
    ListBuffers buffers;
    const py::object seq =
        py::reinterpret_steal<py::object>(PySequence_Fast(configs, "configs must be a sequence"));
    if (!seq) throw py::error_already_set();
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
    for (Py_ssize_t g = 0; g < n; ++g) {
        const auto label = [&] {
            return "schedule " + (names ? show(PyTuple_GET_ITEM(names, g)) : std::to_string(g)) +
                   ": ";
        };
        // The sequence is re-read each time: reading a config may run Python code.
        if (g >= PySequence_Fast_GET_SIZE(seq.ptr()))
            throw py::value_error("configs changed size while being read");
        const py::object cfg =
            py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(seq.ptr(), g));
        try {
            add_config(*set, cfg, buffers);
        } catch (py::type_error& e) {
            if (!labelled) throw;
            throw py::type_error(label() + e.what());
        } catch (py::value_error& e) {
            if (!labelled) throw;
            throw py::value_error(label() + e.what());
        } catch (tml::ConfigError& e) {
            if (!labelled) throw;
            throw py::value_error(label() + e.what());
        }
    }
    return set;
}

PyObject* set_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static const char* keywords[] = {"configs", "names", "labelled", "single", "exact", nullptr};
    PyObject* configs = nullptr;
    PyObject* names = Py_None;
    PyObject* exact = Py_True;
    int labelled = 0, single = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OppO:ScheduleSet",
                                     const_cast<char**>(keywords), &configs, &names, &labelled,
                                     &single, &exact))
        return nullptr;
    if (!PyBool_Check(exact)) {  // a truthy list or 0 would silently pick a mode
        PyErr_Format(PyExc_TypeError, "exact must be True or False, got %R (%s)", exact,
                     Py_TYPE(exact)->tp_name);
        return nullptr;
    }
    return guarded(
        [&]() -> PyObject* {
            py::object name_tuple;
            if (names != Py_None) {
                name_tuple = py::reinterpret_steal<py::object>(PySequence_Tuple(names));
                if (!name_tuple) throw py::error_already_set();
            }
            const Py_ssize_t count = PyObject_Length(configs);
            if (count < 0) throw py::error_already_set();
            if (name_tuple && PyTuple_GET_SIZE(name_tuple.ptr()) != count)
                throw py::value_error("names has " +
                                      std::to_string(PyTuple_GET_SIZE(name_tuple.ptr())) +
                                      " entries but there are " + std::to_string(count) +
                                      " configs: give one name per config");
            if (single && count != 1)
                throw py::value_error("a single schedule needs exactly one config, got " +
                                      std::to_string(count));
            const bool fast = exact == Py_False;
            auto set = compile(configs, name_tuple.ptr(), labelled != 0, fast);
            PyObject* obj = type->tp_alloc(type, 0);
            if (obj == nullptr) return nullptr;
            SetObject* self = as_set(obj);
            self->first = single ? tml::with_kind((*set)[0].kind,
                                                  [fast](auto tag) -> FirstValue {
                                                      using K = typename decltype(tag)::type;
                                                      return fast ? &first_value<K, true>
                                                                  : &first_value<K, false>;
                                                  })
                                 : nullptr;
            new (&self->set) std::shared_ptr<const tml::ScheduleSet>(std::move(set));
            self->names = name_tuple.release().ptr();
            self->single = single;
            self->initialized = 0;
            self->vectorcall = nullptr;  // set below, once the object is complete
            return obj;
        },
        static_cast<PyObject*>(nullptr));
}

// `Schedule(cfg)` runs this once after tp_new; running it again on a live object is
// refused (schedules are immutable).
int set_init(PyObject* self, PyObject*, PyObject*) {
    SetObject* o = as_set(self);
    if (o->initialized) {
        PyErr_Format(PyExc_TypeError,
                     "%s objects are immutable: __init__ cannot run again; build a new one",
                     Py_TYPE(self)->tp_name);
        return -1;
    }
    o->initialized = 1;
    return 0;
}

int set_traverse(PyObject* self, visitproc visit, void* arg) {
    Py_VISIT(as_set(self)->names);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

int set_clear(PyObject* self) {
    Py_CLEAR(as_set(self)->names);
    return 0;
}

void set_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    set_clear(self);
    as_set(self)->set.~shared_ptr();
    type->tp_free(self);
    Py_DECREF(type);
}

// ---------------------------------------------------------------------------------------
// Calls.

PyObject* scalar_result(const SetObject* o, PyObject* step) {
    const tml::ScheduleSet& set = *o->set;
    if (o->first != nullptr)
        return guarded(
            [&]() -> PyObject* {
                const double v = o->first(set, read_step(step));
                if (std::isnan(v)) throw_refused("step", step);
                return PyFloat_FromDouble(v);
            },
            static_cast<PyObject*>(nullptr));
    return guarded(
        [&]() -> PyObject* {
            npy_intp dims[1] = {static_cast<npy_intp>(set.size())};
            py::object out =
                py::reinterpret_steal<py::object>(PyArray_SimpleNew(1, dims, NPY_DOUBLE));
            if (!out) throw py::error_already_set();
            evaluate_scalar_into(set, step, reinterpret_cast<PyArrayObject*>(out.ptr()));
            return out.release().ptr();
        },
        static_cast<PyObject*>(nullptr));
}

// A fresh float64 result for an int64/float64 C-contiguous native array of steps.
PyObject* array_result(const tml::ScheduleSet& set, bool single, PyArrayObject* steps) {
    return guarded(
        [&]() -> PyObject* {
            const int nd = PyArray_NDIM(steps);
            std::vector<npy_intp> dims;
            if (!single) dims.push_back(static_cast<npy_intp>(set.size()));
            dims.insert(dims.end(), PyArray_DIMS(steps), PyArray_DIMS(steps) + nd);
            py::object out = py::reinterpret_steal<py::object>(
                PyArray_SimpleNew(static_cast<int>(dims.size()), dims.data(), NPY_DOUBLE));
            if (!out) throw py::error_already_set();
            evaluate_into(set, steps, reinterpret_cast<PyArrayObject*>(out.ptr()), true);
            return out.release().ptr();
        },
        static_cast<PyObject*>(nullptr));
}

bool fast_array(PyObject* step) {
    if (!PyArray_CheckExact(step)) return false;
    auto* a = reinterpret_cast<PyArrayObject*>(step);
    return PyArray_ISCARRAY_RO(a) && (is_dtype(a, NPY_INT64) || is_dtype(a, NPY_FLOAT64));
}

// A step the per-step path reads as a scalar: a Python int or float, or the numpy scalars
// indexing an int64 or float64 array gives (np.int64, np.float64).
bool fast_scalar(PyObject* step) {
    return PyLong_CheckExact(step) || PyFloat_CheckExact(step) ||
           Py_IS_TYPE(step, &PyInt64ArrType_Type) || Py_IS_TYPE(step, &PyDoubleArrType_Type);
}

// The call's `out`: Py_None when it has none, nullptr when it has an option the per-step
// path does not take (a dtype, an unknown keyword: the general path handles or refuses
// them). `out=None` and `dtype=None` change nothing.
PyObject* out_option(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* out = Py_None;
    if (kwnames == nullptr) return out;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(kwnames); ++j) {
        PyObject* name = PyTuple_GET_ITEM(kwnames, j);
        PyObject* value = args[nargs + j];
        if (PyUnicode_CompareWithASCIIString(name, "out") == 0)
            out = value;
        else if (value != Py_None || PyUnicode_CompareWithASCIIString(name, "dtype") != 0)
            return nullptr;
    }
    return out;
}

// Whether `out` is one the per-step path writes in place, as the general path would:
// an ndarray, C-contiguous, aligned, writeable, native float64 or float32, of exactly the
// result's shape (the general path names any other shape), not sharing memory with
// `steps` (an array, or nullptr for a scalar step).
bool direct_out(PyObject* out, const tml::ScheduleSet& set, bool single, PyArrayObject* steps) {
    if (!PyArray_CheckExact(out)) return false;
    auto* o = reinterpret_cast<PyArrayObject*>(out);
    if (!PyArray_ISCARRAY(o) || !(is_dtype(o, NPY_FLOAT64) || is_dtype(o, NPY_FLOAT32)))
        return false;
    const int lead = single ? 0 : 1;
    const int nd = steps == nullptr ? 0 : PyArray_NDIM(steps);
    if (PyArray_NDIM(o) != lead + nd) return false;
    if (!single && PyArray_DIM(o, 0) != static_cast<npy_intp>(set.size())) return false;
    for (int d = 0; d < nd; ++d)
        if (PyArray_DIM(o, lead + d) != PyArray_DIM(steps, d)) return false;
    if (steps == nullptr) return true;
    const auto* a = static_cast<const char*>(PyArray_DATA(o));
    const auto* b = static_cast<const char*>(PyArray_DATA(steps));
    return a + PyArray_NBYTES(o) <= b || b + PyArray_NBYTES(steps) <= a;
}

// A step array or scalar step, written into `out` (direct_out) unless the step may be
// refused: a refusal is found while writing, and the general path then leaves `out`
// untouched.
PyObject* result_into(const SetObject* o, PyObject* step, PyObject* out) {
    const tml::ScheduleSet& set = *o->set;
    const bool single = o->single != 0;
    auto* steps = fast_array(step) ? reinterpret_cast<PyArrayObject*>(step) : nullptr;
    const bool int_step = steps != nullptr
                              ? is_dtype(steps, NPY_INT64)
                              : PyLong_CheckExact(step) || Py_IS_TYPE(step, &PyInt64ArrType_Type);
    // One schedule at a scalar step returns a float: `out` is an error there.
    if ((steps == nullptr && single) || (set.may_reject() && !int_step) ||
        !direct_out(out, set, single, steps))
        return nullptr;
    return guarded(
        [&]() -> PyObject* {
            auto* to = reinterpret_cast<PyArrayObject*>(out);
            if (steps != nullptr)
                evaluate_into(set, steps, to, false);
            else
                evaluate_scalar_into(set, step, to);
            Py_INCREF(out);
            return out;
        },
        static_cast<PyObject*>(nullptr));
}

PyObject* set_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    SetObject* o = as_set(self);
    const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject* out = nargs == 1 ? out_option(args, nargs, kwnames) : nullptr;
    if (out == Py_None) {
        PyObject* step = args[0];
        if (fast_scalar(step)) return scalar_result(o, step);
        if (fast_array(step))
            return array_result(*o->set, o->single != 0, reinterpret_cast<PyArrayObject*>(step));
    } else if (out != nullptr && (fast_scalar(args[0]) || fast_array(args[0]))) {
        if (PyObject* result = result_into(o, args[0], out)) return result;
        if (PyErr_Occurred()) return nullptr;
    }
    // Everything else: self._call(*args, **kwargs), the general path in Python.
    static PyObject* method = PyUnicode_InternFromString("_call");
    const Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    std::vector<PyObject*> stack(static_cast<std::size_t>(total) + 1);
    stack[0] = self;
    for (Py_ssize_t j = 0; j < total; ++j) stack[static_cast<std::size_t>(j) + 1] = args[j];
    return PyObject_VectorcallMethod(method, stack.data(), static_cast<std::size_t>(nargs) + 1,
                                     kwnames);
}

// ---------------------------------------------------------------------------------------
// Private methods, used by the Python layer (tml/optimizers/schedule.py).

PyObject* per_schedule(PyObject* self, py::object (*item)(const tml::ScheduleSet&, std::size_t)) {
    return guarded(
        [&]() -> PyObject* {
            const tml::ScheduleSet& set = *as_set(self)->set;
            py::list out;
            for (std::size_t g = 0; g < set.size(); ++g) out.append(item(set, g));
            return out.release().ptr();
        },
        static_cast<PyObject*>(nullptr));
}

template <class T>
py::object optional_int(const std::optional<T>& v) {
    return v ? py::object(py::int_(*v)) : py::object(py::none());
}

PyObject* m_size(PyObject* self, PyObject*) { return PyLong_FromSize_t(as_set(self)->set->size()); }
PyObject* m_kinds(PyObject* self, PyObject*) {
    return per_schedule(self, [](const tml::ScheduleSet& s, std::size_t g) -> py::object {
        return py::str(s.kind_name(g));
    });
}
PyObject* m_configs(PyObject* self, PyObject*) {
    return per_schedule(self, [](const tml::ScheduleSet& s, std::size_t g) -> py::object {
        return to_config(s, g);
    });
}
PyObject* m_breakpoints(PyObject* self, PyObject*) {
    return per_schedule(self, [](const tml::ScheduleSet& s, std::size_t g) -> py::object {
        const std::vector<std::int64_t> steps = s.breakpoints(g);
        py::tuple out(steps.size());
        for (std::size_t j = 0; j < steps.size(); ++j) out[j] = py::int_(steps[j]);
        return std::move(out);
    });
}
PyObject* m_flat_from(PyObject* self, PyObject*) {
    return per_schedule(self, [](const tml::ScheduleSet& s, std::size_t g) -> py::object {
        return optional_int(s.flat_from(g));
    });
}
PyObject* m_periods(PyObject* self, PyObject*) {
    return per_schedule(self, [](const tml::ScheduleSet& s, std::size_t g) -> py::object {
        return optional_int(s.period(g));
    });
}

bool expect_args(const char* name, Py_ssize_t nargs, Py_ssize_t lo, Py_ssize_t hi) {
    if (nargs >= lo && nargs <= hi) return true;
    PyErr_Format(PyExc_TypeError, "%s takes %zd to %zd arguments (%zd given)", name, lo, hi, nargs);
    return false;
}

PyArrayObject* array_arg(PyObject* obj, const char* what) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a numpy array", what);
        return nullptr;
    }
    return reinterpret_cast<PyArrayObject*>(obj);
}

// _evaluate_range(start, stride, n, out): every schedule at the steps of a range.
PyObject* m_evaluate_range(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (!expect_args("_evaluate_range", nargs, 4, 4)) return nullptr;
    const long long start = PyLong_AsLongLong(args[0]);
    if (start == -1 && PyErr_Occurred()) return nullptr;
    const long long stride = PyLong_AsLongLong(args[1]);
    if (stride == -1 && PyErr_Occurred()) return nullptr;
    const Py_ssize_t n = PyLong_AsSsize_t(args[2]);
    if (n == -1 && PyErr_Occurred()) return nullptr;
    PyArrayObject* out = array_arg(args[3], "out");
    if (!out) return nullptr;
    if (n < 0 || stride == 0) {
        PyErr_SetString(PyExc_ValueError, "_evaluate_range needs n >= 0 and a non-zero stride");
        return nullptr;
    }
    return guarded(
        [&]() -> PyObject* {
            evaluate_range_into(*as_set(self)->set, start, stride, static_cast<std::size_t>(n),
                                out);
            Py_RETURN_NONE;
        },
        static_cast<PyObject*>(nullptr));
}

// _scalar(step): schedule 0 at one scalar step (Schedule's scalar path).
PyObject* m_scalar(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (!expect_args("_scalar", nargs, 1, 1)) return nullptr;
    return scalar_value(*as_set(self)->set, args[0]);
}

// _evaluate(steps, out, scratch=False): every schedule at every step of an array.
PyObject* m_evaluate(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (!expect_args("_evaluate", nargs, 2, 3)) return nullptr;
    PyArrayObject* steps = array_arg(args[0], "steps");
    PyArrayObject* out = steps ? array_arg(args[1], "out") : nullptr;
    if (!out) return nullptr;
    const int scratch = nargs > 2 ? PyObject_IsTrue(args[2]) : 0;
    if (scratch < 0) return nullptr;
    return guarded(
        [&]() -> PyObject* {
            evaluate_into(*as_set(self)->set, steps, out, scratch != 0);
            Py_RETURN_NONE;
        },
        static_cast<PyObject*>(nullptr));
}

// _evaluate_scalar(step, out): every schedule at one scalar step into out (G elements).
PyObject* m_evaluate_scalar(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (!expect_args("_evaluate_scalar", nargs, 2, 2)) return nullptr;
    PyArrayObject* out = array_arg(args[1], "out");
    if (!out) return nullptr;
    return guarded(
        [&]() -> PyObject* {
            evaluate_scalar_into(*as_set(self)->set, args[0], out);
            Py_RETURN_NONE;
        },
        static_cast<PyObject*>(nullptr));
}

// Whether mapping[key] is absent or a Python int or float (a number a store may replace).
bool holds_number(py::handle mapping, PyObject* key, bool dict) {
    if (dict) {
        PyObject* value = PyDict_GetItemWithError(mapping.ptr(), key);  // borrowed
        if (!value && PyErr_Occurred()) throw py::error_already_set();
        return !value || PyFloat_Check(value) || PyLong_Check(value);
    }
    const py::object value =
        py::reinterpret_steal<py::object>(PyObject_GetItem(mapping.ptr(), key));
    if (!value) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) throw py::error_already_set();
        PyErr_Clear();
        return true;
    }
    return PyFloat_Check(value.ptr()) || PyLong_Check(value.ptr());
}

// targets[g] of _values_at's targets (the list itself, when they are a list), checked
// against the list's size again and held: Python code a target runs (its __getitem__ or
// __setitem__, or a dict key's __eq__ during a lookup) may have emptied the list, which
// may have held the target's last reference.
py::object target_at(const py::object& seq, std::size_t g) {
    if (static_cast<Py_ssize_t>(g) >= PySequence_Fast_GET_SIZE(seq.ptr()))
        throw py::value_error("targets changed size while being read or written (at targets[" +
                              std::to_string(g) + "])");
    return py::reinterpret_borrow<py::object>(
        PySequence_Fast_GET_ITEM(seq.ptr(), static_cast<Py_ssize_t>(g)));
}

// _values_at(step, targets=None, key="lr", numbers_only=False, expected=None): every
// schedule at one scalar step as a list of Python floats; with `targets` (a sequence of
// mappings, e.g. an optimizer's param_groups), also stores value g as targets[g][key].
// One loop in C: per-group Python work is what costs at 10,000 groups. Everything is
// checked before anything is stored. With numbers_only, a target whose key holds
// something other than a Python int or float (a tensor put there since: torch fills
// those in place) stores nothing and returns None, for the caller to write that group its
// own way; so does a target that is not the object at its place in `expected` (a tuple:
// the groups reordered or replaced in the same list since the caller last looked).
PyObject* m_values_at(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (!expect_args("_values_at", nargs, 1, 5)) return nullptr;
    return guarded(
        [&]() -> PyObject* {
            const tml::ScheduleSet& set = *as_set(self)->set;
            PyObject* step = args[0];
            const ScalarStep s = read_step(step);
            const std::size_t groups = set.size();
            py::object seq;
            PyObject* key = nargs > 2 ? args[2] : nullptr;
            static PyObject* lr = PyUnicode_InternFromString("lr");
            if (key == nullptr) key = lr;
            if (nargs > 1 && args[1] != Py_None) {
                seq = py::reinterpret_steal<py::object>(
                    PySequence_Fast(args[1], "targets must be a sequence"));
                if (!seq) throw py::error_already_set();
                if (static_cast<std::size_t>(PySequence_Fast_GET_SIZE(seq.ptr())) != groups)
                    throw py::value_error(
                        "targets has " + std::to_string(PySequence_Fast_GET_SIZE(seq.ptr())) +
                        " items, expected one per schedule (" + std::to_string(groups) + ")");
                static const auto* mutable_mapping =
                    new py::object(py::module_::import("collections.abc").attr("MutableMapping"));
                const int numbers_only = nargs > 3 ? PyObject_IsTrue(args[3]) : 0;
                if (numbers_only < 0) throw py::error_already_set();
                PyObject* expected = nargs > 4 && args[4] != Py_None ? args[4] : nullptr;
                if (expected != nullptr &&
                    (!PyTuple_Check(expected) ||
                     static_cast<std::size_t>(PyTuple_GET_SIZE(expected)) != groups))
                    throw py::type_error("expected must be a tuple of one target per schedule");
                for (std::size_t g = 0; g < groups; ++g) {
                    const py::object target = target_at(seq, g);
                    if (expected != nullptr &&
                        target.ptr() != PyTuple_GET_ITEM(expected, static_cast<Py_ssize_t>(g)))
                        Py_RETURN_NONE;
                    const bool dict = PyDict_Check(target.ptr());
                    if (!dict && !py::isinstance(target, *mutable_mapping))
                        throw py::type_error("targets[" + std::to_string(g) +
                                             "] must be a mapping (a parameter group dict), got " +
                                             show(target));
                    if (numbers_only && !holds_number(target, key, dict)) Py_RETURN_NONE;
                }
            }
            // Every group at the step in one by-kind pass, checked before anything is stored.
            thread_local std::vector<double> results;
            results.resize(groups);
            tml::Options options;  // one thread: the Python work below dominates anyway
            const tml::Outcome outcome = s.is_int
                                             ? tml::evaluate(set, &s.i, 1, results.data(), options)
                                             : tml::evaluate(set, &s.d, 1, results.data(), options);
            if (outcome.status != tml::Outcome::ok) throw_refused("step", step);
            py::list values(groups);
            for (std::size_t g = 0; g < groups; ++g) {
                PyObject* value = PyFloat_FromDouble(results[g]);
                if (!value) throw py::error_already_set();
                PyList_SET_ITEM(values.ptr(), static_cast<Py_ssize_t>(g), value);  // steals
                if (seq && PyObject_SetItem(target_at(seq, g).ptr(), key, value) != 0)
                    throw py::error_already_set();
            }
            return values.release().ptr();
        },
        static_cast<PyObject*>(nullptr));
}

PyMethodDef methods[] = {
    {"_size", m_size, METH_NOARGS, "Number of schedules."},
    {"_kinds", m_kinds, METH_NOARGS, "Kind name of each schedule."},
    {"_configs", m_configs, METH_NOARGS, "YAML-shaped dict of each schedule."},
    {"_breakpoints", m_breakpoints, METH_NOARGS,
     "Steps where each schedule's formula changes (the first 64 for endless ones)."},
    {"_flat_from", m_flat_from, METH_NOARGS,
     "The step from which each schedule is constant, or None if it never is."},
    {"_periods", m_periods, METH_NOARGS, "The cycle length of each periodic schedule, or None."},
    {"_scalar", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&m_scalar)),
     METH_FASTCALL, "Schedule 0 at one scalar step."},
    {"_evaluate", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&m_evaluate)),
     METH_FASTCALL, "Every schedule at every step into out; contiguous int64/float64 steps."},
    {"_evaluate_range",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&m_evaluate_range)), METH_FASTCALL,
     "Every schedule at the steps start + i * stride, i < n, into out; all in [0, 2**63 - 1]."},
    {"_evaluate_scalar",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&m_evaluate_scalar)), METH_FASTCALL,
     "Every schedule at one scalar step into out."},
    {"_values_at", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&m_values_at)),
     METH_FASTCALL,
     "Every schedule at one scalar step as floats; optionally stored in targets[g][key]."},
    {nullptr, nullptr, 0, nullptr}};

PyMemberDef members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(SetObject, vectorcall), READONLY, nullptr},
    {"_names", T_OBJECT, offsetof(SetObject, names), READONLY,
     "Names of the schedules (a tuple), or None."},
    {"_single", T_INT, offsetof(SetObject, single), READONLY,
     "Whether this is one schedule, whose results are shaped like the steps."},
    {nullptr, 0, 0, 0, nullptr}};

PyObject* get_may_reject(PyObject* self, void*) {
    return PyBool_FromLong(as_set(self)->set->may_reject());
}
PyObject* get_exact(PyObject* self, void*) { return PyBool_FromLong(!as_set(self)->set->fast()); }

PyGetSetDef getset[] = {
    {"_may_reject", get_may_reject, nullptr,
     "Whether some float step may be refused (cosine_restarts, cyclic: steps >= 2**63).", nullptr},
    {"_exact", get_exact, nullptr,
     "False in fast mode (fast cos/pow kernels), True for the bitwise-exact formulas.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyObject* set_new_with_vectorcall(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    PyObject* obj = set_new(type, args, kwargs);
    if (obj) as_set(obj)->vectorcall = set_vectorcall;
    return obj;
}

PyType_Slot slots[] = {
    {Py_tp_doc,
     const_cast<char*>("Validated, compiled schedules; immutable and thread-safe (private: "
                       "use tml.optimizers.Schedule and Schedules).")},
    {Py_tp_new, reinterpret_cast<void*>(set_new_with_vectorcall)},
    {Py_tp_init, reinterpret_cast<void*>(set_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(set_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(set_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(set_clear)},
    {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
    {Py_tp_methods, methods},
    {Py_tp_members, members},
    {Py_tp_getset, getset},
    {0, nullptr}};

PyType_Spec spec = {
    "tml._core.ScheduleSet", sizeof(SetObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    slots};

}  // namespace

const tml::ScheduleSet* single_schedule(PyObject* obj) {
    if (set_type == nullptr || !PyObject_TypeCheck(obj, set_type) || !as_set(obj)->single)
        return nullptr;
    return as_set(obj)->set.get();
}

PyObject* scalar_value(const tml::ScheduleSet& set, PyObject* step) {
    return guarded(
        [&]() -> PyObject* {
            const double v = eval_one(set, 0, read_step(step));
            if (std::isnan(v)) throw_refused("step", step);
            return PyFloat_FromDouble(v);
        },
        static_cast<PyObject*>(nullptr));
}

// Python before 3.12 does not let a class statement's subclass inherit vectorcall, so
// calling a Schedule would build an argument tuple for tp_call first. For the package's
// own subclasses, which do not override __call__, set what 3.12 sets by itself; they are
// also made immutable, so __call__ cannot be replaced afterwards and leave the two
// inconsistent.
void fast_calls(py::handle cls) {
    if (!PyType_Check(cls.ptr()) ||
        !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls.ptr()), set_type))
        throw py::type_error("_fast_calls takes a subclass of ScheduleSet");
    auto* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
    if (type->tp_call != set_type->tp_call ||
        type->tp_vectorcall_offset != set_type->tp_vectorcall_offset)
        throw py::type_error("_fast_calls: the class overrides __call__");
    type->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_IMMUTABLETYPE;
    PyType_Modified(type);
}

namespace {

// Test hooks of fast mode: the cos kernel itself, and the instruction-set level of the
// batch loops (the results must be the same at every level with FMA, and the exact values
// at the baseline).
py::object fast_cos(const py::object& x) {
    const py::object arr = py::reinterpret_steal<py::object>(
        PyArray_FROMANY(x.ptr(), NPY_DOUBLE, 0, 0, NPY_ARRAY_CARRAY_RO));
    if (!arr) throw py::error_already_set();
    auto* in = reinterpret_cast<PyArrayObject*>(arr.ptr());
    py::object out =
        py::reinterpret_steal<py::object>(PyArray_NewLikeArray(in, NPY_CORDER, nullptr, 0));
    if (!out) throw py::error_already_set();
    const auto* src = static_cast<const double*>(PyArray_DATA(in));
    auto* dst = static_cast<double*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(out.ptr())));
    const auto n = static_cast<std::size_t>(PyArray_SIZE(in));
    tml::dispatch::run([=] {
        for (std::size_t i = 0; i < n; ++i) dst[i] = tml::fast::cos_0_pi(src[i]);
    });
    return out;
}

tml::dispatch::Isa isa_from(const std::string& name) {
    for (auto isa :
         {tml::dispatch::Isa::baseline, tml::dispatch::Isa::avx2, tml::dispatch::Isa::avx512})
        if (name == tml::dispatch::isa_name(isa)) return isa;
    throw py::value_error("level must be 'baseline', 'avx2' or 'avx512', got " +
                          show(py::str(name)));
}

}  // namespace

void bind_schedule_type(py::module_& m) {
    if (_import_array() < 0) throw py::error_already_set();
    PyObject* type = PyType_FromModuleAndSpec(m.ptr(), &spec, nullptr);
    if (type == nullptr) throw py::error_already_set();
    set_type = reinterpret_cast<PyTypeObject*>(type);  // this reference is never released
    m.add_object("ScheduleSet", py::reinterpret_borrow<py::object>(type));

    m.def(
        "set_max_threads", [](unsigned n) { max_threads = n > 0 ? n : tml::available_cores(); },
        py::arg("n"), "Threads a batch call may use; 0 restores the default (all usable cores).");
    m.def("get_max_threads", [] { return max_threads.load(); });
    m.def("_fast_cos", &fast_cos, py::arg("x"),
          "Fast mode's cos kernel (x in [0, pi]) on an array, at the current level (tests).");
    m.def(
        "_isa", [] { return std::string(tml::dispatch::isa_name(tml::dispatch::level())); },
        "The instruction-set level fast mode's batch loops use now.");
    m.def("_fast_kernels", &tml::dispatch::has_fma,
          "Whether fast mode runs its kernels now: False at a level without FMA, where it "
          "runs the exact formulas (ScheduleSet::runs_fast).");
    m.def(
        "_set_isa_cap",
        [](const std::string& name) {
            const std::string before = tml::dispatch::isa_name(tml::dispatch::level());
            tml::dispatch::set_level_cap(isa_from(name));
            return before;
        },
        py::arg("level"),
        "Caps the level of fast mode's batch loops ('baseline', 'avx2', 'avx512': for tests; "
        "the same results at every level with FMA, the exact values at the baseline); "
        "returns the level used before.");
    m.def("_fast_calls", &fast_calls, py::arg("cls"),
          "Lets a subclass that keeps ScheduleSet's __call__ be called through vectorcall.");
    m.def("kind_fields", &kind_fields,
          "Every kind's config fields (name, type, default, range), as the core declares them.");
    m.def("_register_models", &register_models, py::arg("learning_rate"), py::arg("kinds"),
          "Names the package's pydantic config classes, whose instances are read directly.");
}

}  // namespace tml_bindings
