// Config fields, declared once per kind: name, type, default, range.
//
// Each kind (kinds.hpp) lists its fields in `static constexpr auto fields()`, a tuple of
// `Field<Kind, Member>`: the field's description (`FieldInfo`: what the binding exposes
// as `_core.kind_fields()`, what the pydantic models are checked against, what the CLI
// lists) and a pointer to the member that holds its value. The binding reads and writes
// every kind generically from this list, and the checks below validate each value with
// the field's own rule; a kind adds only its cross-field rules (`check`). No Python here.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "tml/numeric.hpp"

namespace tml {

// What a config value is. Every type refuses NaN and infinities; ranges below.
enum class FieldType : std::uint8_t {
    rate,       // a learning rate: a finite float >= 0 (-0.0 is taken as 0.0)
    real,       // a finite float in the field's interval
    integer,    // an integer in [min, 2**53] (an integral float such as 10.0 is 10)
    flag,       // true or false
    choice,     // one of the field's strings
    int_list,   // integers in [min, 2**53], strictly increasing
    rate_list,  // learning rates
    stages,     // sequence stages: {num_steps, schedule}, the last without num_steps
};

inline const char* type_name(FieldType t) {
    switch (t) {
        case FieldType::rate:
            return "rate";
        case FieldType::real:
            return "real";
        case FieldType::integer:
            return "integer";
        case FieldType::flag:
            return "flag";
        case FieldType::choice:
            return "choice";
        case FieldType::int_list:
            return "int_list";
        case FieldType::rate_list:
            return "rate_list";
        case FieldType::stages:
            return "stages";
    }
    return "?";
}

// An interval of reals, each end open or closed; (0, inf) is "> 0".
struct Interval {
    double lo = -HUGE_VAL, hi = HUGE_VAL;
    bool lo_open = true, hi_open = true;

    bool contains(double v) const {
        return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    }
    std::string text() const {  // "in (0, 1]", "> 0", ">= 0"
        if (std::isinf(hi)) return std::string(lo_open ? "> " : ">= ") + repr(lo);
        return std::string("in ") + (lo_open ? "(" : "[") + repr(lo) + ", " + repr(hi) +
               (hi_open ? ")" : "]");
    }
};
inline constexpr Interval positive{0.0, HUGE_VAL, true, true};
inline constexpr Interval non_negative{0.0, HUGE_VAL, false, true};
inline constexpr Interval unit_open{0.0, 1.0, true, true};    // (0, 1)
inline constexpr Interval unit_right{0.0, 1.0, true, false};  // (0, 1]

// A field as the outside world sees it. `required` fields have no default; a `nullable`
// field may be unset (None), which is its default.
struct FieldInfo {
    const char* name = nullptr;
    FieldType type = FieldType::rate;
    bool required = true;
    bool nullable = false;
    double default_real = 0.0;     // rate, real
    std::int64_t default_int = 0;  // integer
    bool default_flag = false;     // flag
    std::uint8_t default_choice = 0;
    Interval range{};        // real
    std::int64_t min = 0;    // integer, int_list elements
    bool non_empty = false;  // lists
    const char* const* choices = nullptr;
    std::uint8_t choice_count = 0;
    const char* doc = "";
};

// Member types holding a field's value.
struct OptionalCount {  // an integer field that may be unset
    bool set = false;
    Count value{};
};
struct OptionalRate {  // a rate that may be unset
    bool set = false;
    double value = 0.0;
};
struct Choice {
    std::uint8_t index = 0;
};
// A list stored in the schedule set's tables: elements [offset, offset + count).
struct ListRef {
    std::uint32_t offset = 0;
    std::uint32_t count = 0;
};

template <class Kind, class Member>
struct Field {
    FieldInfo info;
    Member Kind::* member;
};

// Field constructors, one per type; a default, where the field has one, comes last.
constexpr FieldInfo describe(const char* name, FieldType type, const char* doc) {
    FieldInfo f{};
    f.name = name;
    f.type = type;
    f.doc = doc;
    return f;
}
constexpr FieldInfo with_default(FieldInfo f) {
    f.required = false;
    return f;
}
constexpr FieldInfo nullable(FieldInfo f) {
    f.required = false;
    f.nullable = true;
    return f;
}

template <class K>
constexpr Field<K, double> rate(const char* name, double K::* m, const char* doc) {
    return {describe(name, FieldType::rate, doc), m};
}
template <class K>
constexpr Field<K, double> rate(const char* name, double K::* m, const char* doc, double def) {
    FieldInfo f = with_default(describe(name, FieldType::rate, doc));
    f.default_real = def;
    return {f, m};
}
template <class K>
constexpr Field<K, OptionalRate> optional_rate(const char* name, OptionalRate K::* m,
                                               const char* doc) {
    return {nullable(describe(name, FieldType::rate, doc)), m};
}
template <class K>
constexpr Field<K, double> real(const char* name, double K::* m, Interval range, const char* doc) {
    FieldInfo f = describe(name, FieldType::real, doc);
    f.range = range;
    return {f, m};
}
template <class K>
constexpr Field<K, double> real(const char* name, double K::* m, Interval range, const char* doc,
                                double def) {
    FieldInfo f = with_default(describe(name, FieldType::real, doc));
    f.range = range;
    f.default_real = def;
    return {f, m};
}
template <class K>
constexpr Field<K, Count> integer(const char* name, Count K::* m, std::int64_t min,
                                  const char* doc) {
    FieldInfo f = describe(name, FieldType::integer, doc);
    f.min = min;
    return {f, m};
}
template <class K>
constexpr Field<K, Count> integer(const char* name, Count K::* m, std::int64_t min, const char* doc,
                                  std::int64_t def) {
    FieldInfo f = with_default(describe(name, FieldType::integer, doc));
    f.min = min;
    f.default_int = def;
    return {f, m};
}
template <class K>
constexpr Field<K, OptionalCount> optional_integer(const char* name, OptionalCount K::* m,
                                                   std::int64_t min, const char* doc) {
    FieldInfo f = nullable(describe(name, FieldType::integer, doc));
    f.min = min;
    return {f, m};
}
template <class K>
constexpr Field<K, bool> flag(const char* name, bool K::* m, const char* doc, bool def) {
    FieldInfo f = with_default(describe(name, FieldType::flag, doc));
    f.default_flag = def;
    return {f, m};
}
// The first choice is the default.
template <class K, std::size_t N>
constexpr Field<K, Choice> choice(const char* name, Choice K::* m, const char* const (&choices)[N],
                                  const char* doc) {
    FieldInfo f = with_default(describe(name, FieldType::choice, doc));
    f.choices = choices;
    f.choice_count = static_cast<std::uint8_t>(N);
    return {f, m};
}
template <class K>
constexpr Field<K, ListRef> int_list(const char* name, ListRef K::* m, std::int64_t min,
                                     bool non_empty, const char* doc) {
    FieldInfo f = describe(name, FieldType::int_list, doc);
    f.min = min;
    f.non_empty = non_empty;
    return {f, m};
}
template <class K>
constexpr Field<K, ListRef> rate_list(const char* name, ListRef K::* m, const char* doc) {
    FieldInfo f = describe(name, FieldType::rate_list, doc);
    f.non_empty = true;
    return {f, m};
}

// Calls f(field) for each field of Kind, in declaration order.
template <class Kind, class F>
void for_each_field(F&& f) {
    std::apply([&](const auto&... field) { (f(field), ...); }, Kind::fields());
}

// ---------------------------------------------------------------------------
// Errors and the per-field checks. A message names the full path of the field from the
// config's top and its value: "sequence[1].schedule.cosine_decay.num_steps must be in
// [1, 2**53], got num_steps=0".

struct ConfigError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Where a value sits in a config, as a chain of keys and list positions kept on the
// stack while a config is read; rendered ("sequence[1].schedule.cosine_decay") only
// when a message needs it, so reading a valid config builds no strings.
struct Path {
    const Path* parent = nullptr;
    const char* key = nullptr;  // a key, or
    long index = -1;            // a position in a list

    Path() = default;
    Path(const Path& p, const char* k) : parent(&p), key(k) {}
    Path(const Path& p, long i) : parent(&p), index(i) {}

    std::string str() const {
        std::string head = parent ? parent->str() : std::string();
        if (key) return head.empty() ? std::string(key) : head + "." + key;
        if (index >= 0) return head + "[" + std::to_string(index) + "]";
        return head;
    }
};

[[noreturn]] inline void fail(const Path& where, const char* name, const std::string& rule,
                              const std::string& got) {
    throw ConfigError(Path(where, name).str() + " " + rule + ", got " + got);
}
[[noreturn]] inline void fail(const Path& where, const std::string& message) {
    const std::string head = where.str();
    throw ConfigError(head.empty() ? message : head + " " + message);
}

// A rate or real, checked; returns the value to store (a rate of -0.0 becomes 0.0, so
// no schedule returns a negative zero).
inline double checked_real(const FieldInfo& f, double v, const Path& where) {
    const auto got = [&] { return std::string(f.name) + "=" + repr(v); };  // on failure only
    if (f.type == FieldType::rate) {
        if (!(std::isfinite(v) && v >= 0.0))
            fail(where, f.name, "must be a finite number >= 0", got());
        return v + 0.0;
    }
    if (!std::isfinite(v)) fail(where, f.name, "must be a finite number", got());
    if (!f.range.contains(v)) fail(where, f.name, "must be " + f.range.text(), got());
    return v;
}

inline std::string int_range_text(std::int64_t min) {
    return min == -max_config_int ? "[-2**53, 2**53]" : "[" + repr(min) + ", 2**53]";
}

inline Count checked_int(const FieldInfo& f, std::int64_t v, const Path& where) {
    if (v < f.min || v > max_config_int)
        fail(where, f.name, "must be an integer in " + int_range_text(f.min),
             std::string(f.name) + "=" + repr(v));
    return Count(v);
}

// List elements are named by position: "multistep_decay.milestones[2]".
[[noreturn]] inline void fail_item(const Path& where, const char* name, std::size_t j,
                                   const std::string& rule, const std::string& value) {
    const Path list(where, name);
    const std::string item = std::string(name) + "[" + std::to_string(j) + "]";
    throw ConfigError(Path(list, static_cast<long>(j)).str() + " " + rule + ", got " + item + "=" +
                      value);
}

inline void check_int_list(const FieldInfo& f, const std::int64_t* v, std::size_t n,
                           const Path& where) {
    if (f.non_empty && n == 0)
        fail(where, f.name, "must not be empty", std::string(f.name) + "=[]");
    for (std::size_t j = 0; j < n; ++j) {
        if (v[j] < f.min || v[j] > max_config_int)
            fail_item(where, f.name, j, "must be an integer in " + int_range_text(f.min),
                      repr(v[j]));
        if (j > 0 && v[j] <= v[j - 1])
            fail(where, f.name, "must be strictly increasing",
                 std::string(f.name) + "[" + std::to_string(j - 1) + "]=" + repr(v[j - 1]) +
                     " and " + f.name + "[" + std::to_string(j) + "]=" + repr(v[j]));
    }
}

inline void check_rate_list(const FieldInfo& f, double* v, std::size_t n, const Path& where) {
    if (f.non_empty && n == 0)
        fail(where, f.name, "must not be empty", std::string(f.name) + "=[]");
    for (std::size_t j = 0; j < n; ++j) {
        if (!(std::isfinite(v[j]) && v[j] >= 0.0))
            fail_item(where, f.name, j, "must be a finite number >= 0", repr(v[j]));
        v[j] += 0.0;
    }
}

}  // namespace tml
