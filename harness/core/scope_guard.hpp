// ScopeGuard: runs a callable when the scope ends unless dismissed. Templated on the callable
// (no std::function, no allocation).
#pragma once

#include <utility>

namespace nslab::core {

template <typename F>
class [[nodiscard]] ScopeGuard {
public:
    explicit ScopeGuard(F f) : f_(std::move(f)) {}
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;
    ~ScopeGuard() {
        if (armed_) f_();
    }
    void dismiss() { armed_ = false; }

private:
    F f_;
    bool armed_ = true;
};

}  // namespace nslab::core
