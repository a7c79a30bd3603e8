#include "report/text_util.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace nslab::report {

namespace {

constexpr char32_t bad_sequence = 0xFFFFFFFF;

// The code point starting at s[i], advancing i past it. A byte that does not start a valid,
// shortest-form UTF-8 sequence (or a surrogate, or a value past U+10FFFF) gives bad_sequence and
// advances i by that one byte only.
char32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    std::size_t len = 0;
    char32_t cp = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        ++i;
        return bad_sequence;
    }
    if (s.size() - i < len) {
        ++i;
        return bad_sequence;
    }
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            ++i;
            return bad_sequence;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++i;
        return bad_sequence;
    }
    i += len;
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

void append_hex(std::string& out, const char* prefix, unsigned value) {
    static constexpr char digits[] = "0123456789abcdef";
    out += prefix;
    out += digits[(value >> 4) & 0xF];
    out += digits[value & 0xF];
}

std::size_t width_of(char32_t cp) {
    if (cp == bad_sequence) return 1;
    // Combining marks, zero-width spaces and joiners, variation selectors.
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
        (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE00 && cp <= 0xFE0F))
        return 0;
    // East Asian wide and full-width forms, the common emoji blocks.
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

}  // namespace

std::string one_line(std::string_view s) {
    while (!s.empty() &&
           (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(s, i);
        if (cp == '\r' && i < s.size() && s[i] == '\n') ++i;  // CRLF is one break
        if (cp == '\n' || cp == '\r') {
            out += "⏎";
        } else if (cp == '\t') {
            out += ' ';
        } else if (cp == bad_sequence) {
            append_hex(out, "\\x", static_cast<unsigned char>(s[start]));
        } else if (cp < 0x20 || cp == 0x7F) {
            append_hex(out, "\\x", static_cast<unsigned>(cp));
        } else if (cp >= 0x80 && cp <= 0x9F) {
            append_hex(out, "\\u00", static_cast<unsigned>(cp));
        } else {
            out.append(s.substr(start, i - start));
        }
    }
    return out;
}

std::size_t display_width(std::string_view s) {
    std::size_t w = 0;
    for (std::size_t i = 0; i < s.size();) w += width_of(next_code_point(s, i));
    return w;
}

std::string truncate_width(std::string_view s, std::size_t max_width) {
    if (display_width(s) <= max_width) return std::string(s);
    if (max_width == 0) return {};
    const std::size_t budget = max_width - 1;  // room for the "…"
    std::size_t w = 0, i = 0;
    while (i < s.size()) {
        std::size_t next = i;
        const std::size_t cw = width_of(next_code_point(s, next));
        if (w + cw > budget) break;
        w += cw;
        i = next;
    }
    return std::string(s.substr(0, i)) + "…";
}

std::string pad_right(std::string_view s, std::size_t width) {
    std::string out(s);
    const std::size_t w = display_width(s);
    if (w < width) out.append(width - w, ' ');
    return out;
}

std::string xml_escape(std::string_view s, bool attribute) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(s, i);
        switch (cp) {
            case '&':
                out += "&amp;";
                continue;
            case '<':
                out += "&lt;";
                continue;
            case '>':
                out += "&gt;";
                continue;
            case '"':
                out += "&quot;";
                continue;
            case '\'':
                out += "&apos;";
                continue;
            case '\t':
                out += attribute ? "&#9;" : "\t";
                continue;
            case '\n':
                out += attribute ? "&#10;" : "\n";
                continue;
            case '\r':
                out += "&#13;";
                continue;
            default:
                break;
        }
        // XML 1.0 forbids the other C0 controls and U+FFFE/U+FFFF; DEL and C1 are legal but
        // "discouraged", and some consumers reject them, so they go too.
        const bool forbidden = cp == bad_sequence || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
                               cp == 0xFFFE || cp == 0xFFFF;
        if (forbidden) {
            append_utf8(out, 0xFFFD);
        } else {
            out.append(s.substr(start, i - start));
        }
    }
    return out;
}

std::string fixed(double v, int decimals) {
    if (!std::isfinite(v) || v < 0) v = 0;
    char buf[512];  // DBL_MAX has 309 integer digits
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    if (ec != std::errc()) return "0";
    return std::string(buf, end);
}

std::string human_duration(double ms) {
    if (!std::isfinite(ms) || ms < 0) ms = 0;
    if (ms < 1) return fixed(ms, 2) + " ms";
    if (ms < 999.95) return fixed(ms, 1) + " ms";
    if (ms < 59995) return fixed(ms / 1000, 2) + " s";
    const auto tenths = static_cast<std::uint64_t>(std::llround(ms / 100));  // of a second
    return std::to_string(tenths / 600) + " min " +
           fixed(static_cast<double>(tenths % 600) / 10, 1) + " s";
}

std::string mark_text(const experiment::Mark& m) {
    if (m.file.empty() && m.line <= 0) return {};
    std::string s = m.file.empty() ? "?" : m.file;
    if (m.line > 0) {
        s += ":" + std::to_string(m.line);
        if (m.column > 0) s += ":" + std::to_string(m.column);
    }
    return s;
}

}  // namespace nslab::report
