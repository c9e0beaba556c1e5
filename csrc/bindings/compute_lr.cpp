// compute_lr as a C function: Python int and float steps, the per-step calls of a
// training loop, are evaluated here without a Python frame or pybind11's dispatch (each
// costs about what the reference's whole call does); every other call goes to the
// Python implementation registered by tml.optimizers.schedule, which also supplies the
// docstring.
#include <pybind11/pybind11.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include "bindings.hpp"
#include "convert.hpp"
#include "schedule_type.hpp"

namespace py = pybind11;
using namespace tml_bindings;

namespace {

// The scalar path of compute_lr: reads the config into per-thread scratch buffers (no
// allocation once warm) and evaluates one step. Reading a config may run Python code
// that calls compute_lr again: such a nested call gets buffers of its own.
struct Scratch {
    tml::ScheduleSet set;
    ListBuffers lists;
    bool busy = false;
};

PyObject* scalar_lr(PyObject* cfg, PyObject* step, bool fast) {
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
        return PyFloat_FromDouble(config_value(scratch.set, scratch.lists, cfg, step, fast));
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

struct ComputeLr {
    PyMethodDef def{"compute_lr", nullptr, METH_FASTCALL | METH_KEYWORDS, nullptr};
    PyObject* general = nullptr;  // the Python compute_lr (strong reference, kept)
    std::string doc;
};
ComputeLr& compute_lr_state() {
    static auto* state = new ComputeLr();  // leaked: lives as long as the function object
    return *state;
}

// The `exact` keyword of a call, where it is the only keyword: Py_True, Py_False or
// Py_None (borrowed); nullptr when there are no keywords, or others (the general path).
PyObject* exact_keyword(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    if (kwnames == nullptr) return Py_None;
    static PyObject* exact = PyUnicode_InternFromString("exact");
    if (PyTuple_GET_SIZE(kwnames) != 1) return nullptr;
    PyObject* key = PyTuple_GET_ITEM(kwnames, 0);
    if (key != exact && PyUnicode_Compare(key, exact) != 0) return nullptr;
    PyObject* value = args[nargs];
    return value == Py_True || value == Py_False || value == Py_None ? value : nullptr;
}

PyObject* compute_lr(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    if (nargs == 2 && (PyLong_CheckExact(args[1]) || PyFloat_CheckExact(args[1]))) {
        // exact: None (the default) means a Schedule's own mode, exact for a config; any
        // other value, or a Schedule of the other mode, takes the general path.
        PyObject* exact = exact_keyword(args, nargs, kwnames);
        if (exact != nullptr) {
            if (const tml::ScheduleSet* compiled = single_schedule(args[0])) {
                if (exact == Py_None || (exact == Py_False) == compiled->fast())
                    return scalar_value(*compiled, args[1]);
            } else {
                return scalar_lr(args[0], args[1], exact == Py_False);
            }
        }
    }
    ComputeLr& state = compute_lr_state();
    if (state.general == nullptr) {  // called before tml.optimizers was imported
        PyObject* mod = PyImport_ImportModule("tml.optimizers.schedule");
        if (mod == nullptr) return nullptr;
        Py_DECREF(mod);
        if (state.general == nullptr) {  // a stub or partial module did not register
            PyErr_SetString(PyExc_RuntimeError,
                            "tml._core.compute_lr: the Python layer (tml.optimizers.schedule) "
                            "did not register its general path; import tml.optimizers first");
            return nullptr;
        }
    }
    return PyObject_Vectorcall(state.general, args, static_cast<std::size_t>(nargs), kwnames);
}

}  // namespace

void tml_bindings::bind_compute_lr(py::module_& m) {
    ComputeLr& state = compute_lr_state();
    state.def.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&compute_lr));
    m.add_object("compute_lr", py::reinterpret_steal<py::object>(PyCFunction_NewEx(
                                   &state.def, m.ptr(), m.attr("__name__").ptr())));
    m.def(
        "_register_compute_lr",
        [](py::object general, const std::string& doc) {
            if (!PyCallable_Check(general.ptr())) throw py::type_error("general must be callable");
            ComputeLr& st = compute_lr_state();
            Py_XDECREF(st.general);
            st.general = general.release().ptr();
            st.doc = doc;
            st.def.ml_doc = st.doc.c_str();
        },
        py::arg("general"), py::arg("doc"),
        "Installs the Python path and docstring of compute_lr (tml.optimizers.schedule).");
}
