// Result<T>: a value or an Error that carries errno, the call that failed with its arguments,
// and context added by callers on the way up ("writing uid_map of realm A: open(...): EACCES").
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace nslab::sys {

// Symbolic errno name ("EINVAL"); "E?" for an unknown value. Never reads errno itself.
std::string errno_name(int err);

class Error {
public:
    Error() = default;
    // A failed system call: err is the errno it returned, call spells it out ("setns(fd=5, CLONE_NEWUTS)").
    Error(int err, std::string call) : err_(err), call_(std::move(call)) {}
    // A failure that is not a system call (bad reply, protocol error): err is 0.
    static Error message(std::string text) { return Error(0, std::move(text)); }

    int err() const { return err_; }
    const std::string& call() const { return call_; }
    // Adds a layer of context, outermost first when printed.
    Error& context(std::string what) {
        context_.push_back(std::move(what));
        return *this;
    }
    Error with_context(std::string what) const& {
        Error copy = *this;
        copy.context(std::move(what));
        return copy;
    }
    // "writing uid_map of realm A: open(/proc/42/uid_map, O_WRONLY): EACCES (Permission denied)"
    std::string describe() const;

private:
    int err_ = 0;
    std::string call_;
    std::vector<std::string> context_;  // innermost first
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like expected<T>
    Result(Error error) : v_(std::move(error)) {}  // NOLINT

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }
    Result& context(std::string what) {
        if (!ok()) std::get<1>(v_).context(std::move(what));
        return *this;
    }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const& { return error_; }
    Error&& error() && { return std::move(error_); }
    Result& context(std::string what) {
        if (failed_) error_.context(std::move(what));
        return *this;
    }

private:
    Error error_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace nslab::sys

// Propagates an error from an expression returning Result<...>; evaluates to nothing. The
// temporary's name is unique (__COUNTER__), so the macro nests without shadowing.
#define NSLAB_TRY(expr) NSLAB_TRY_IMPL_(NSLAB_CONCAT_(nslab_try_result_, __COUNTER__), expr)
#define NSLAB_TRY_IMPL_(tmp, expr)                 \
    do {                                           \
        auto tmp = (expr);                         \
        if (!tmp.ok()) return std::move(tmp).error(); \
    } while (0)

#define NSLAB_CONCAT_INNER_(a, b) a##b
#define NSLAB_CONCAT_(a, b) NSLAB_CONCAT_INNER_(a, b)
// Declares `lhs` from a Result's value, or returns its error.
#define NSLAB_ASSIGN_OR_RETURN(lhs, expr) \
    NSLAB_ASSIGN_OR_RETURN_IMPL_(NSLAB_CONCAT_(nslab_result_, __COUNTER__), lhs, expr)
#define NSLAB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
    auto tmp = (expr);                               \
    if (!tmp.ok()) return std::move(tmp).error();    \
    lhs = std::move(tmp).value()
