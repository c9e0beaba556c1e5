// Reading configs and scalar steps from Python, generically from each kind's fields
// (see convert.hpp).
#include "convert.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "tml/batch.hpp"

namespace tml_bindings {

std::string show(py::handle h) {
    // repr of user data, cut short: a config may hold a huge list. An int has no repr
    // past Python's limit on the digits str() writes (4,300): its size is shown.
    PyObject* r = PyObject_Repr(h.ptr());
    if (r == nullptr) {
        if (!PyLong_Check(h.ptr()) || !PyErr_ExceptionMatches(PyExc_ValueError))
            throw py::error_already_set();
        PyErr_Clear();
        const py::int_ magnitude = py::reinterpret_steal<py::int_>(PyNumber_Absolute(h.ptr()));
        if (!magnitude) throw py::error_already_set();
        // bits * log10(2) rounded down, plus one, is the digit count or one more.
        const auto bits = magnitude.attr("bit_length")().cast<double>();
        auto digits = static_cast<long long>(bits * 0.30102999566398120) + 1;
        if (magnitude < py::int_(10).attr("__pow__")(digits - 1)) --digits;
        const bool negative = PyObject_RichCompareBool(h.ptr(), py::int_(0).ptr(), Py_LT) == 1;
        return std::string(negative ? "a negative" : "an") + " integer of " +
               std::to_string(digits) + " digits";
    }
    std::string text = py::reinterpret_steal<py::str>(r);
    return text.size() <= 200 ? text : text.substr(0, 197) + "...";
}

namespace {

using tml::Path;

// ---------------------------------------------------------------------------
// Names, interned once: attribute and key lookups then match by identity. Created once
// and never released (a static py::object would be released after the interpreter).

py::str interned(const char* name) {
    return py::reinterpret_steal<py::str>(PyUnicode_InternFromString(name));
}

struct Names {
    std::vector<py::str> kinds;  // in tml::Kinds order
    std::vector<std::vector<py::str>> fields;
    py::str num_steps = interned("num_steps");
    py::str schedule = interned("schedule");
    py::object real = py::module_::import("numbers").attr("Real");
    py::object numpy_bool = py::module_::import("numpy").attr("bool_");
    PyTypeObject* learning_rate_model = nullptr;  // registered by tml.optimizers.config
    std::vector<PyTypeObject*> kind_models;

    Names() {
        tml::for_each_kind([&](auto tag) {
            using K = typename decltype(tag)::type;
            kinds.push_back(interned(K::name));
            std::vector<py::str> names;
            tml::for_each_field<K>([&](const auto& f) { names.push_back(interned(f.info.name)); });
            fields.push_back(std::move(names));
        });
        kind_models.assign(tml::kind_count, nullptr);
    }
};
Names& names() {
    static Names* n = new Names();
    return *n;
}

// The four kinds of the original tml: objects passed as configs must have these
// attributes (the original read them all). Later kinds are optional attributes.
constexpr std::size_t original_kinds = 4;

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

std::string where_text(const Path& where, const char* top) {
    const std::string s = where.str();
    return s.empty() ? std::string(top) : s;
}

// ---------------------------------------------------------------------------
// Attribute access with the original's semantics, and without exceptions where an
// optional attribute is simply absent.

bool is_model_of(py::handle obj, PyTypeObject* type) {
    return type != nullptr && Py_TYPE(obj.ptr()) == type;
}

// The instance dict of a registered model (its fields live there); borrowed.
PyObject* model_dict(py::handle obj) {
    PyObject** dict = _PyObject_GetDictPtr(obj.ptr());
    return dict ? *dict : nullptr;
}

// Looks `name` up as an attribute. Returns a new reference, or nullptr when the object
// has no such attribute. An AttributeError raised *inside* a property or __getattr__
// that does exist is the user's error and propagates (error_already_set).
PyObject* optional_attr(py::handle obj, const py::str& name) {
    PyObject* value = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
    const int found = PyObject_GetOptionalAttr(obj.ptr(), name.ptr(), &value);
#else
    const int found = _PyObject_LookupAttr(obj.ptr(), name.ptr(), &value);
#endif
    if (found < 0) throw py::error_already_set();
    if (found > 0) return value;
    // Absent, or a descriptor that raised AttributeError (swallowed above): ask again
    // where a descriptor exists, to surface its own error.
    if (_PyType_Lookup(Py_TYPE(obj.ptr()), name.ptr()) != nullptr) {
        value = PyObject_GetAttr(obj.ptr(), name.ptr());
        if (value == nullptr) throw py::error_already_set();
        return value;
    }
    return nullptr;
}

// A field of a config node (dict key, model field, or attribute). `found` tells absent
// (false) from present; a present None is returned as None.
py::object get_field(py::handle node, const py::str& name, bool& found) {
    PyObject* p = node.ptr();
    if (PyDict_Check(p)) {
        PyObject* v = PyDict_GetItemWithError(p, name.ptr());  // borrowed
        if (!v && PyErr_Occurred()) throw py::error_already_set();
        found = v != nullptr;
        return v ? py::reinterpret_borrow<py::object>(v) : py::none();
    }
    PyObject* v = optional_attr(node, name);
    found = v != nullptr;
    return v ? py::reinterpret_steal<py::object>(v) : py::none();
}

// ---------------------------------------------------------------------------
// Values.

bool is_bool(py::handle h) {
    if (PyLong_CheckExact(h.ptr()) || PyFloat_CheckExact(h.ptr())) return false;
    return PyBool_Check(h.ptr()) || py::isinstance(h, names().numpy_bool);
}

bool is_real(py::handle v) {
    return PyFloat_Check(v.ptr()) || PyLong_Check(v.ptr()) || py::isinstance(v, names().real);
}

// A value that cannot be a config node (where a mapping or object is expected): found
// with exact-type checks only, no isinstance against ABCs (this runs on every call).
bool is_plain_value(py::handle v) {
    PyObject* p = v.ptr();
    return PyUnicode_Check(p) || PyBytes_Check(p) || PyFloat_Check(p) || PyLong_Check(p) ||
           PyList_Check(p) || PyTuple_Check(p);
}

// Where a value being read sits: a field of a config node, or an item of a list field.
// Its path and label are rendered only when a message needs them.
struct Where {
    const Path& node;
    const char* field;
    long index = -1;  // >= 0: item `index` of list field `field`

    std::string path() const {
        const Path f(node, field);
        return index < 0 ? f.str() : Path(f, index).str();
    }
    std::string label() const {
        return index < 0 ? std::string(field)
                         : std::string(field) + "[" + std::to_string(index) + "]";
    }
};

[[noreturn]] void type_error(const Where& w, const char* expected, py::handle v) {
    throw py::type_error(w.path() + " must be " + expected + ", got " + show(v) + " (" +
                         type_name(v) + ")");
}
[[noreturn]] void value_error(const Where& w, const std::string& rule, py::handle v) {
    throw py::value_error(w.path() + " " + rule + ", got " + w.label() + "=" + show(v));
}

// A Python number as a double; an int too large for a double is a ValueError.
double to_double(py::handle v, const Where& w) {
    const double d = PyFloat_AsDouble(v.ptr());
    if (d == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) throw py::error_already_set();
        PyErr_Clear();
        value_error(w, "must be a finite number", v);
    }
    return d;
}

// A number written as a string, as YAML 1.1 loaders leave `1e-3`: parsed as Python's
// int() or, failing that, float() would, but in ASCII only (Python also reads other
// scripts' digits, which pydantic and YAML do not).
py::object parse_number(py::handle v, const Where& w) {
    Py_ssize_t size = 0;
    const char* text = PyUnicode_AsUTF8AndSize(v.ptr(), &size);
    if (text == nullptr) throw py::error_already_set();
    bool ascii = true;
    for (Py_ssize_t j = 0; j < size; ++j) ascii &= static_cast<unsigned char>(text[j]) < 128;
    PyObject* n = nullptr;
    if (ascii) {
        n = PyLong_FromUnicodeObject(v.ptr(), 10);
        if (!n) {
            PyErr_Clear();
            n = PyFloat_FromString(v.ptr());
        }
        if (!n) PyErr_Clear();
    }
    if (!n) value_error(w, "must be a number", v);
    py::object number = py::reinterpret_steal<py::object>(n);
    // A number float() takes as inf without spelling it (1e400, or an integer past int()'s
    // 4,300 digits): named as written, not as the inf it became.
    if (PyFloat_Check(n) && std::isinf(PyFloat_AS_DOUBLE(n)) &&
        std::string(text, static_cast<std::size_t>(size)).find_first_of("iI") == std::string::npos)
        value_error(w, "must be a finite number", v);
    return number;
}

double read_real(py::handle v, const Where& w) {
    if (PyFloat_CheckExact(v.ptr())) return PyFloat_AS_DOUBLE(v.ptr());
    if (PyUnicode_Check(v.ptr())) return read_real(parse_number(v, w), w);
    if (is_bool(v) || !is_real(v)) type_error(w, "a number", v);
    return to_double(v, w);
}

// An integer: an int, an integral real such as 10.0 (taken as 10; 10.5 is refused), or a
// string of one. Values beyond int64 are refused here (as outside the field's range,
// which starts at `min`), the others by the core.
std::int64_t read_int(py::handle v, const Where& w, std::int64_t min) {
    PyObject* p = v.ptr();
    if (PyLong_CheckExact(p)) {
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(p, &overflow);
        if (overflow == 0) return static_cast<std::int64_t>(i);
    }
    if (PyUnicode_Check(p)) return read_int(parse_number(v, w), w, min);
    const auto out_of_range = [&] {
        value_error(w, "must be an integer in " + tml::int_range_text(min), v);
    };
    if (is_bool(v) || !is_real(v)) type_error(w, "an integer", v);
    if (!PyFloat_Check(p) && PyIndex_Check(p)) {
        const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(p));
        if (!index) throw py::error_already_set();
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
        if (overflow != 0) out_of_range();
        return static_cast<std::int64_t>(i);
    }
    const double d = to_double(v, w);
    if (!std::isfinite(d) || d != std::floor(d)) value_error(w, "must be an integer", v);
    if (std::fabs(d) > 0x1p62) out_of_range();
    return static_cast<std::int64_t>(d);
}

bool read_flag(py::handle v, const Where& w) {
    if (!is_bool(v)) type_error(w, "true or false", v);
    return PyObject_IsTrue(v.ptr()) == 1;
}

std::uint8_t read_choice(py::handle v, const tml::FieldInfo& f, const Where& w) {
    if (!PyUnicode_Check(v.ptr())) type_error(w, "a string", v);
    for (std::uint8_t j = 0; j < f.choice_count; ++j)
        if (PyUnicode_CompareWithASCIIString(v.ptr(), f.choices[j]) == 0) return j;
    std::string allowed;
    for (std::uint8_t j = 0; j < f.choice_count; ++j)
        allowed += (j ? ", '" : "'") + std::string(f.choices[j]) + "'";
    value_error(w, "must be one of " + allowed, v);
}

// A list field, item by item (each read may run Python code that changes the list, so
// the size and item are re-read each time and the item is held).
template <class T, class Read>
void read_list(py::handle v, const Where& w, Read read, std::vector<T>& out) {
    if (PyUnicode_Check(v.ptr()) || PyBytes_Check(v.ptr()) || !PySequence_Check(v.ptr()))
        type_error(w, "a list", v);
    const py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(v.ptr(), ""));
    if (!seq) throw py::error_already_set();
    out.clear();
    for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(seq.ptr()); ++j) {
        const py::object item =
            py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(seq.ptr(), j));
        out.push_back(read(item, Where{w.node, w.field, static_cast<long>(j)}));
    }
}

// ---------------------------------------------------------------------------
// Configs.

struct Reader {
    tml::ScheduleSet& set;
    ListBuffers& buffers;
    int sequence_depth = 0;  // sequences being read around the current config

    // YAML-shaped dicts are checked for unknown keys, as the pydantic models forbid them.
    template <class Allowed>
    void check_keys(py::handle node, const Path& where, const char* top, const Allowed& allowed) {
        if (!PyDict_Check(node.ptr())) return;
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(node.ptr(), &pos, &key, &value)) {
            bool known = false;
            for (const py::str& a : allowed) known |= key == a.ptr();
            if (!known && PyUnicode_Check(key))
                for (const py::str& a : allowed) known |= PyUnicode_Compare(key, a.ptr()) == 0;
            if (known) continue;
            std::string list;
            for (const py::str& a : allowed)
                list += (list.empty() ? "" : ", ") + std::string(py::str(a));
            throw py::value_error(where_text(where, top) + ": unknown key " +
                                  show(py::handle(key)) + " (allowed: " + list + ")");
        }
    }

    // Field `f` of a kind's `body`, read from `fields` (the body itself when it is a
    // dict, a model's instance dict, or null to use attributes).
    template <class K, class Member>
    void read_field(K& kind, const tml::Field<K, Member>& f, py::handle body, PyObject* fields,
                    const Path& where, const py::str& name) {
        bool found = false;
        const py::object v = fields ? get_field(fields, name, found) : get_field(body, name, found);
        if (!found && !PyDict_Check(body.ptr()) && f.info.required)
            throw py::type_error(where.str() + " must be a dict or an object with attribute '" +
                                 f.info.name + "', got " + show(body) + " (" + type_name(body) +
                                 ")");
        // None is a nullable field's default; a field that is not nullable takes it as the
        // models do: absent gives the default, an explicit None is a value of the wrong
        // type (read_value names it).
        if (v.is_none() && (f.info.required || !found || f.info.nullable)) {
            if (f.info.required)
                throw py::value_error(Path(where, f.info.name).str() + " is required");
            set_default(kind.*f.member, f.info);
            return;
        }
        read_value(kind.*f.member, f.info, v, where);
    }

    static void set_default(double& m, const tml::FieldInfo& f) { m = f.default_real; }
    static void set_default(tml::Count& m, const tml::FieldInfo& f) {
        m = tml::Count(f.default_int);
    }
    static void set_default(bool& m, const tml::FieldInfo& f) { m = f.default_flag; }
    static void set_default(tml::Choice& m, const tml::FieldInfo& f) { m.index = f.default_choice; }
    static void set_default(tml::OptionalRate& m, const tml::FieldInfo&) { m.set = false; }
    static void set_default(tml::OptionalCount& m, const tml::FieldInfo&) { m.set = false; }
    static void set_default(tml::ListRef&, const tml::FieldInfo&) {}  // lists are required

    void read_value(double& m, const tml::FieldInfo& f, py::handle v, const Path& where) {
        m = tml::checked_real(f, read_real(v, Where{where, f.name}), where);
    }
    void read_value(tml::OptionalRate& m, const tml::FieldInfo& f, py::handle v,
                    const Path& where) {
        m = {true, tml::checked_real(f, read_real(v, Where{where, f.name}), where)};
    }
    void read_value(tml::Count& m, const tml::FieldInfo& f, py::handle v, const Path& where) {
        m = tml::checked_int(f, read_int(v, Where{where, f.name}, f.min), where);
    }
    void read_value(tml::OptionalCount& m, const tml::FieldInfo& f, py::handle v,
                    const Path& where) {
        m = {true, tml::checked_int(f, read_int(v, Where{where, f.name}, f.min), where)};
    }
    void read_value(bool& m, const tml::FieldInfo& f, py::handle v, const Path& where) {
        m = read_flag(v, Where{where, f.name});
    }
    void read_value(tml::Choice& m, const tml::FieldInfo& f, py::handle v, const Path& where) {
        m.index = read_choice(v, f, Where{where, f.name});
    }
    void read_value(tml::ListRef& m, const tml::FieldInfo& f, py::handle v, const Path& where) {
        if (f.type == tml::FieldType::int_list) {
            read_list(
                v, Where{where, f.name},
                [&](py::handle item, const Where& w) { return read_int(item, w, f.min); },
                buffers.ints);
            tml::check_int_list(f, buffers.ints.data(), buffers.ints.size(), where);
            m = set.tables().add_ints(buffers.ints.data(), buffers.ints.size());
        } else {
            read_list(
                v, Where{where, f.name},
                [](py::handle item, const Where& w) { return read_real(item, w); }, buffers.reals);
            tml::check_rate_list(f, buffers.reals.data(), buffers.reals.size(), where);
            m = set.tables().add_reals(buffers.reals.data(), buffers.reals.size());
        }
    }

    // The fields of kind K from its config `body`, each validated; not yet finished.
    template <class K>
    K read_fields(py::handle body, const Path& at, std::size_t kind) {
        K k{};
        const auto& field_names = names().fields[kind];
        if constexpr (K::shape == tml::Shape::scalar) {
            // {kind: value}: the kind's one field is the value itself.
            constexpr auto f = std::get<0>(K::fields());
            read_value(k.*f.member, f.info, body, *at.parent);
        } else {
            if (is_plain_value(body))
                throw py::type_error(at.str() + " must be a mapping of its fields, got " +
                                     show(body) + " (" + type_name(body) + ")");
            check_keys(body, at, K::name, field_names);
            PyObject* fields = PyDict_Check(body.ptr())                       ? body.ptr()
                               : is_model_of(body, names().kind_models[kind]) ? model_dict(body)
                                                                              : nullptr;
            std::size_t j = 0;
            tml::for_each_field<K>(
                [&](const auto& f) { read_field(k, f, body, fields, at, field_names[j++]); });
        }
        return k;
    }

    template <class K>
    tml::Ref read_kind(py::handle body, const Path& where, std::size_t kind) {
        const Path at(where, K::name);
        if constexpr (K::shape == tml::Shape::list) {
            return read_sequence(body, at);
        } else {
            return set.store(read_fields<K>(body, at, kind), at);
        }
    }

    // [{num_steps: n, schedule: config}, ..., {schedule: config}]
    tml::Ref read_sequence(py::handle body, const Path& at) {
        const char* top = "sequence";
        if (PyUnicode_Check(body.ptr()) || PyDict_Check(body.ptr()) ||
            !PySequence_Check(body.ptr()))
            throw py::type_error(at.str() +
                                 " must be a list of stages {num_steps, schedule}, got " +
                                 show(body) + " (" + type_name(body) + ")");
        if (sequence_depth == tml::max_sequence_depth)
            throw py::value_error(at.str() + " nests sequences more than " +
                                  std::to_string(tml::max_sequence_depth) +
                                  " deep (does the config contain itself?); refused");
        struct Level {  // one level deeper while this sequence's stages are read
            int& depth;
            explicit Level(int& d) : depth(++d) {}
            ~Level() { --depth; }
            Level(const Level&) = delete;
            Level& operator=(const Level&) = delete;
        } level(sequence_depth);
        const py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(body.ptr(), ""));
        if (!seq) throw py::error_already_set();
        const Py_ssize_t count = PySequence_Fast_GET_SIZE(seq.ptr());
        std::vector<std::int64_t> lengths;
        std::vector<tml::Ref> stages;
        const std::vector<py::str> stage_keys{names().num_steps, names().schedule};
        for (Py_ssize_t j = 0; j < count; ++j) {
            const py::object stage =
                py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(seq.ptr(), j));
            const Path here(at, static_cast<long>(j));
            if (stage.is_none() || is_plain_value(stage))
                throw py::type_error(here.str() + " must be a stage {num_steps, schedule}, got " +
                                     show(stage) + " (" + type_name(stage) + ")");
            check_keys(stage, here, top, stage_keys);
            bool found = false;
            const py::object n = get_field(stage, names().num_steps, found);
            const bool last = j + 1 == count;
            if (last && !n.is_none())
                value_error(Where{here, "num_steps"},
                            "must be left out: the last stage runs forever", n);
            if (!last) {
                if (n.is_none())
                    throw py::value_error(Path(here, "num_steps").str() +
                                          " is required (only the last stage runs forever)");
                tml::FieldInfo info = tml::describe("num_steps", tml::FieldType::integer, "");
                info.min = 1;
                lengths.push_back(
                    tml::checked_int(info, read_int(n, Where{here, "num_steps"}, 1), here).i);
            }
            const py::object schedule = get_field(stage, names().schedule, found);
            const Path schedule_at(here, "schedule");
            if (schedule.is_none()) throw py::value_error(schedule_at.str() + " is required");
            stages.push_back(read_config(schedule, schedule_at));
        }
        return set.store(set.make_sequence(lengths, stages, at), at);
    }

    // The kind a LearningRate-shaped config sets, and its body. Dicts and the package's
    // own LearningRate models are read in one pass over their items (the kind found and
    // unknown keys refused together); other objects through their attributes, the
    // kinds after the original four being optional.
    struct Choice {
        std::size_t kind = tml::kind_count;
        py::object body;
    };
    Choice choose_kind(py::handle cfg, const Path& where) {
        const Names& n = names();
        const char* top = "lr_config";
        if (cfg.is_none())
            throw py::type_error(where_text(where, top) +
                                 " is None; expected a LearningRate, a dict or an object with "
                                 "attributes constant, piecewise_constant, ... (one kind set)");
        Choice choice;
        std::size_t count = 0;
        std::vector<std::size_t> set_kinds;  // filled only when more than one is set
        const auto consider = [&](std::size_t k, PyObject* v) {
            if (v == Py_None) return;
            if (++count > 1) {
                if (set_kinds.empty()) set_kinds.push_back(choice.kind);
                set_kinds.push_back(k);
            }
            choice.kind = k;
            choice.body = py::reinterpret_borrow<py::object>(v);
        };
        const bool is_dict = PyDict_Check(cfg.ptr());
        PyObject* dict = is_dict                                   ? cfg.ptr()
                         : is_model_of(cfg, n.learning_rate_model) ? model_dict(cfg)
                                                                   : nullptr;
        if (dict != nullptr) {
            PyObject *key, *value;
            Py_ssize_t pos = 0;
            std::size_t expected = 0;  // a model's fields are in the kinds' order
            while (PyDict_Next(dict, &pos, &key, &value)) {
                const std::size_t next = expected++;
                if (value == Py_None && !is_dict) continue;  // a model's unset kind
                std::size_t k = next;
                if (k >= tml::kind_count || key != n.kinds[k].ptr())
                    for (k = 0; k < tml::kind_count && key != n.kinds[k].ptr(); ++k) {
                    }
                if (k == tml::kind_count && PyUnicode_Check(key))
                    for (k = 0; k < tml::kind_count; ++k)
                        if (PyUnicode_Compare(key, n.kinds[k].ptr()) == 0) break;
                if (k == tml::kind_count) {
                    if (!is_dict) continue;                // a model subclass's own field
                    check_keys(cfg, where, top, n.kinds);  // raises, naming the key
                }
                // Every kind of a model too: one mutated after validation (an assignment,
                // model_construct) may hold two, refused as a dict holding two is.
                consider(k, value);
            }
        } else {
            if (is_plain_value(cfg))
                throw py::type_error(where_text(where, top) +
                                     " must be a LearningRate, a dict or an object with the kind "
                                     "attributes, got " +
                                     show(cfg) + " (" + type_name(cfg) + ")");
            for (std::size_t k = 0; k < tml::kind_count; ++k) {
                PyObject* v = optional_attr(cfg, n.kinds[k]);
                if (v == nullptr) {
                    if (k < original_kinds)
                        throw py::type_error(where_text(where, top) +
                                             " must be a dict or an object with attribute '" +
                                             tml::kind_name_at(k) + "', got " + show(cfg) + " (" +
                                             type_name(cfg) + ")");
                    continue;
                }
                const py::object held = py::reinterpret_steal<py::object>(v);
                consider(k, held.ptr());
            }
        }
        if (count != 1) {
            std::string all, got;
            for (std::size_t k = 0; k < tml::kind_count; ++k)
                all += (k ? ", " : "") + std::string(tml::kind_name_at(k));
            for (std::size_t k : set_kinds)
                got += (got.empty() ? "" : ", ") + std::string(tml::kind_name_at(k));
            throw py::value_error(where_text(where, top) + " must set exactly one of " + all +
                                  "; got " + (count == 0 ? "none" : got));
        }
        return choice;
    }

    // A LearningRate-shaped config, stored in the set.
    tml::Ref read_config(py::handle cfg, const Path& where) {
        const Choice choice = choose_kind(cfg, where);
        return tml::with_kind(choice.kind, [&](auto tag) {
            using K = typename decltype(tag)::type;
            return read_kind<K>(choice.body, where, choice.kind);
        });
    }
};

// ---------------------------------------------------------------------------
// Writing configs back.

py::object value_of(const tml::ScheduleSet&, const tml::FieldInfo&, double v) {
    return py::float_(v);
}
py::object value_of(const tml::ScheduleSet&, const tml::FieldInfo&, const tml::Count& v) {
    return py::int_(v.i);
}
py::object value_of(const tml::ScheduleSet&, const tml::FieldInfo&, const tml::OptionalRate& v) {
    return v.set ? py::object(py::float_(v.value)) : py::object(py::none());
}
py::object value_of(const tml::ScheduleSet&, const tml::FieldInfo&, const tml::OptionalCount& v) {
    return v.set ? py::object(py::int_(v.value.i)) : py::object(py::none());
}
py::object value_of(const tml::ScheduleSet&, const tml::FieldInfo&, bool v) { return py::bool_(v); }
py::object value_of(const tml::ScheduleSet&, const tml::FieldInfo& f, const tml::Choice& v) {
    return py::str(f.choices[v.index]);
}
py::object value_of(const tml::ScheduleSet& set, const tml::FieldInfo& f, const tml::ListRef& v) {
    const tml::Context c = set.context();
    py::list out;
    for (std::uint32_t j = 0; j < v.count; ++j) {
        if (f.type == tml::FieldType::int_list)
            out.append(py::int_(c.ints[v.offset + j]));
        else
            out.append(py::float_(c.reals[v.offset + j]));
    }
    return std::move(out);
}

py::object config_of(const tml::ScheduleSet& set, tml::Ref r);

template <class K>
py::object body_of(const tml::ScheduleSet& set, const K& k) {
    if constexpr (K::shape == tml::Shape::scalar) {
        constexpr auto f = std::get<0>(K::fields());
        return value_of(set, f.info, k.*f.member);
    } else if constexpr (K::shape == tml::Shape::list) {
        const tml::Context c = set.context();
        py::list stages;
        for (std::uint32_t j = 0; j < k.stages.count; ++j) {
            py::dict stage;
            if (j + 1 < k.stages.count) {
                const std::int64_t start = j == 0 ? 0 : c.ints[k.starts.offset + j - 1];
                stage["num_steps"] = py::int_(c.ints[k.starts.offset + j] - start);
            }
            stage["schedule"] = config_of(set, c.refs[k.stages.offset + j]);
            stages.append(stage);
        }
        return std::move(stages);
    } else {
        py::dict body;
        tml::for_each_field<K>(
            [&](const auto& f) { body[f.info.name] = value_of(set, f.info, k.*f.member); });
        return std::move(body);
    }
}

py::object config_of(const tml::ScheduleSet& set, tml::Ref r) {
    py::dict d;
    tml::visit(set.pool(), r, [&](const auto& k) {
        using K = std::decay_t<decltype(k)>;
        d[K::name] = body_of(set, k);
    });
    return std::move(d);
}

py::object default_of(const tml::FieldInfo& f) {
    if (f.required || f.nullable) return py::none();
    switch (f.type) {
        case tml::FieldType::rate:
        case tml::FieldType::real:
            return py::float_(f.default_real);
        case tml::FieldType::integer:
            return py::int_(f.default_int);
        case tml::FieldType::flag:
            return py::bool_(f.default_flag);
        case tml::FieldType::choice:
            return py::str(f.choices[f.default_choice]);
        default:
            return py::none();
    }
}

}  // namespace

void add_config(tml::ScheduleSet& set, py::handle cfg, ListBuffers& buffers) {
    Reader reader{set, buffers};
    set.add_member(reader.read_config(cfg, Path()));
}

double config_value(tml::ScheduleSet& scratch, ListBuffers& buffers, py::handle cfg,
                    py::handle step, bool fast) {
    scratch.tables().clear();  // the set itself is used, and cleared, by sequences only
    scratch.set_fast(fast);
    Reader reader{scratch, buffers};
    const Path top;
    const Reader::Choice choice = reader.choose_kind(cfg, top);
    const double value = tml::with_kind(choice.kind, [&](auto tag) {
        using K = typename decltype(tag)::type;
        if constexpr (K::shape == tml::Shape::list) {
            scratch.clear();
            scratch.add_member(reader.read_kind<K>(choice.body, top, choice.kind));
            return eval_one(scratch, 0, read_step(step));
        } else {
            // One schedule evaluated where it was read: no set to build.
            const Path at(top, K::name);
            K k = reader.read_fields<K>(choice.body, at, choice.kind);
            k.finish(at, scratch.tables());
            const ScalarStep s = read_step(step);
            const tml::Context c = scratch.context();
            if (fast) {
                tml::prepare_fast(k);
                return s.is_int ? tml::fast_mode_value(k, s.i, c) : tml::fast_mode_value(k, s.d, c);
            }
            return s.is_int ? k(s.i, c) : k(s.d, c);
        }
    });
    if (std::isnan(value)) throw_refused("step", step);
    return value;
}

py::object to_config(const tml::ScheduleSet& set, std::size_t g) { return config_of(set, set[g]); }

py::dict kind_fields() {
    py::dict out;
    tml::for_each_kind([&](auto tag) {
        using K = typename decltype(tag)::type;
        py::list fields;
        tml::for_each_field<K>([&](const auto& field) {
            const tml::FieldInfo& f = field.info;
            py::dict d;
            d["name"] = f.name;
            d["type"] = tml::type_name(f.type);
            d["required"] = f.required;
            d["nullable"] = f.nullable;
            d["default"] = default_of(f);
            if (f.type == tml::FieldType::real)
                d["range"] =
                    py::make_tuple(f.range.lo, f.range.hi, f.range.lo_open, f.range.hi_open);
            if (f.type == tml::FieldType::integer || f.type == tml::FieldType::int_list)
                d["min"] = f.min;
            if (f.type == tml::FieldType::int_list || f.type == tml::FieldType::rate_list)
                d["non_empty"] = f.non_empty;
            if (f.type == tml::FieldType::choice) {
                py::list choices;
                for (std::uint8_t j = 0; j < f.choice_count; ++j) choices.append(f.choices[j]);
                d["choices"] = choices;
            }
            d["doc"] = f.doc;
            fields.append(d);
        });
        py::dict kind;
        kind["shape"] = K::shape == tml::Shape::scalar ? "scalar"
                        : K::shape == tml::Shape::list ? "list"
                                                       : "mapping";
        kind["doc"] = K::doc;
        kind["fields"] = fields;
        out[K::name] = kind;
    });
    return out;
}

void register_models(py::handle learning_rate, py::dict kinds) {
    Names& n = names();
    if (!PyType_Check(learning_rate.ptr())) throw py::type_error("learning_rate must be a class");
    n.learning_rate_model = reinterpret_cast<PyTypeObject*>(learning_rate.ptr());
    Py_INCREF(learning_rate.ptr());  // kept for the life of the process
    for (std::size_t k = 0; k < tml::kind_count; ++k) {
        if (!kinds.contains(n.kinds[k])) continue;
        py::handle model = kinds[n.kinds[k]];
        if (!PyType_Check(model.ptr())) throw py::type_error("kind models must be classes");
        Py_INCREF(model.ptr());
        n.kind_models[k] = reinterpret_cast<PyTypeObject*>(model.ptr());
    }
}

// ---------------------------------------------------------------------------
// Steps

void throw_refused(const std::string& where, py::handle value) {
    throw py::value_error(where + " = " + show(value) +
                          " is not a valid step here: cosine_restarts and cyclic schedules (also "
                          "as sequence stages) count their cycles exactly and take float steps "
                          "below 2**63 only");
}

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
        const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(p));
        if (!index) throw py::error_already_set();
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
        // An error names the number (`step=-2`), not the numpy scalar holding it.
        if (overflow > 0)
            throw py::value_error("step must be <= 2**63 - 1, got step=" + show(index));
        if (overflow < 0 || i < 0)
            throw py::value_error("step must be finite and >= 0, got step=" + show(index));
        return {true, static_cast<std::int64_t>(i), 0.0};
    }
    // Floats, and real scalars such as numpy.float32 (widened exactly to double).
    if (PyFloat_Check(p) || py::isinstance(step, names().real)) {
        const double d = PyFloat_AsDouble(p);
        if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
        if (tml::invalid_step(d))
            throw py::value_error("step must be finite and >= 0, got step=" + show(py::float_(d)));
        return {false, 0, d};
    }
    throw py::type_error("step must be an integer or a float, got " + show(step) + " (" +
                         type_name(step) + ")");
}

}  // namespace tml_bindings
