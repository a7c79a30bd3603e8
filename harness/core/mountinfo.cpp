#include "core/mountinfo.hpp"

#include <cctype>
#include <sstream>

#include "sys/syscalls.hpp"

namespace nslab::core {

bool MountEntry::read_only() const { return options == "ro" || options.rfind("ro,", 0) == 0; }

std::string unescape_mountinfo(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

sys::Result<std::vector<MountEntry>> read_mountinfo() {
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file("/proc/self/mountinfo"));
    std::vector<MountEntry> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        MountEntry e;
        if (!(f >> e.id >> e.parent >> e.dev >> e.root >> e.point >> e.options)) continue;
        std::string word;
        while (f >> word && word != "-") e.optional.push_back(word);
        f >> e.fstype >> e.source >> e.super_options;
        e.root = unescape_mountinfo(e.root);
        e.point = unescape_mountinfo(e.point);
        e.source = unescape_mountinfo(e.source);
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace nslab::core
