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
        const double v = eval_one(scratch.set, 0, read_step(step));
        if (std::isnan(v)) throw_refused("step", step);
        return PyFloat_FromDouble(v);
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
        !PyObject_TypeCheck(args[0], reinterpret_cast<PyTypeObject*>(state.schedule_type)))
        return scalar_lr(args[0], args[1]);
    if (state.general == nullptr) {  // called before tml.optimizers was imported
        PyObject* mod = PyImport_ImportModule("tml.optimizers.schedule");
        if (mod == nullptr) return nullptr;
        Py_DECREF(mod);
    }
    return PyObject_Vectorcall(state.general, args, static_cast<std::size_t>(nargs), kwnames);
}

}  // namespace

void bind_compute_lr(py::module_& m) {
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
}
