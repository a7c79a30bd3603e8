// Text helpers shared by the report renderers: UTF-8-safe cleaning, widths and truncation for
// terminal tables, XML escaping, locale-independent number formatting.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "experiment/model.hpp"

namespace nslab::report {

// One value as a single printable line for a terminal: trailing newlines and spaces dropped, inner
// line breaks shown as "⏎", tabs as a space, other control characters (C0, DEL, C1) and bytes that
// are not valid UTF-8 as "\xNN" / "\u00NN", so nothing written by a probe can drive the terminal.
std::string one_line(std::string_view s);

// Columns the text takes in a terminal: one per code point, two for East Asian wide and emoji
// ranges, none for combining marks. Bytes that are not valid UTF-8 count one each.
std::size_t display_width(std::string_view s);

// s cut to at most max_width columns at a code point boundary; "…" ends it when something was cut.
std::string truncate_width(std::string_view s, std::size_t max_width);

// s padded with spaces on the right to width columns (never cut).
std::string pad_right(std::string_view s, std::size_t width);

// Text safe in XML 1.0 content (attribute = false) or in a double-quoted attribute (true):
// & < > " ' escaped; in attributes tab, newline and CR as character references so they survive
// attribute normalisation; a CR in content as &#13;. Characters XML 1.0 forbids (controls other
// than tab/LF/CR, U+FFFE/U+FFFF) and bytes that are not valid UTF-8 become U+FFFD.
std::string xml_escape(std::string_view s, bool attribute);

// v with exactly `decimals` digits after the point, in the C locale whatever the global one is.
// NaN, infinities and negative values give 0.
std::string fixed(double v, int decimals);

// A duration for people: "0.42 ms", "3.1 ms", "1.25 s", "2 min 5.0 s".
std::string human_duration(double ms);

// "file:line:col", "file:line" without a column, "" for an unset mark.
std::string mark_text(const experiment::Mark& m);

}  // namespace nslab::report
