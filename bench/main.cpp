// nslab_bench: what a namespace costs on this machine, and what nslab adds on top of the kernel.
// Families and their meaning are listed at the top of kernel_bench.cpp, nslab_bench.cpp and
// peer_bench.cpp; ci/bench runs them with repetitions and renders docs/bench/.
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common.hpp"

namespace {

std::string first_line_with(const char* path, const std::string& prefix) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(prefix, 0) == 0) {
            auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return "unknown";
}

std::string read_trimmed(const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

int count_lines(const char* path) {
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) ++n;
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    struct utsname u {};
    ::uname(&u);
    benchmark::AddCustomContext("kernel", u.release);
    benchmark::AddCustomContext("cpu_model", first_line_with("/proc/cpuinfo", "model name"));
    benchmark::AddCustomContext("nproc", std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)));
    benchmark::AddCustomContext("mem_total", first_line_with("/proc/meminfo", "MemTotal"));
    benchmark::AddCustomContext("mounts", std::to_string(count_lines("/proc/self/mountinfo")));
    benchmark::AddCustomContext("loadavg_at_start", read_trimmed("/proc/loadavg"));
    benchmark::AddCustomContext("euid", std::to_string(::geteuid()));

    nslab::bench::register_kernel_benchmarks();
    nslab::bench::register_nslab_benchmarks();
    nslab::bench::register_peer_benchmarks();
    nslab::bench::register_breakdown_benchmarks();

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
