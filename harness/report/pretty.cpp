// The terminal / CI-log rendering: one block per experiment, then the closing summary.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.hpp"
#include "report/text_util.hpp"

namespace nslab::report {

using runner::ExperimentResult;
using runner::Outcome;

namespace {

constexpr std::size_t value_width = 40;    // longest value shown in a matrix cell
constexpr std::size_t detail_width = 200;  // longest line of a step's detail
constexpr std::size_t detail_lines = 20;   // most lines of a step's detail
constexpr std::size_t word_column = 8;     // "BROKEN" and two spaces
constexpr std::size_t name_column = 60;
constexpr std::size_t time_column = 10;
constexpr std::string_view indent = "    ";
constexpr std::string_view gap = "  ";  // between matrix columns

constexpr const char* reset = "\033[0m";
constexpr const char* red = "\033[31m";
constexpr const char* bold_red = "\033[1;31m";
constexpr const char* green = "\033[32m";
constexpr const char* yellow = "\033[33m";
constexpr const char* magenta = "\033[35m";
constexpr const char* dim = "\033[2m";

const char* outcome_color(Outcome o) {
    switch (o) {
        case Outcome::pass:
            return green;
        case Outcome::fail:
            return red;
        case Outcome::skip:
            return yellow;
        case Outcome::broken:
            return magenta;
    }
    return nullptr;
}

std::string paint(std::string_view text, const char* color, const PrettyOptions& o) {
    if (!o.color || color == nullptr || text.empty()) return std::string(text);
    return std::string(color) + std::string(text) + reset;
}

void rstrip(std::string& s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
}

// A value inside a cell: one line, at most value_width columns, "" shown for the empty string.
std::string cell_value(std::string_view v) {
    std::string s = one_line(v);
    if (s.empty()) return "\"\"";
    return truncate_width(s, value_width);
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) s += sep;
        s += items[i];
    }
    return s;
}

// Spaces that take text of width w to column width, or one space when it is already that wide.
std::string spaces_after(std::size_t w, std::size_t width) {
    return std::string(w < width ? width - w : 1, ' ');
}

// "FAIL    td2_uts.hostname_isolated        3.1 ms": word, name and right-aligned time in fixed
// columns, so a run's header lines line up.
void write_header(std::ostream& out, const ExperimentResult& r, const PrettyOptions& o) {
    const std::string word = runner::outcome_name(r.outcome);
    const std::string name = one_line(r.full_name());
    const std::string time = human_duration(r.duration_ms);
    const std::size_t time_w = display_width(time);
    out << paint(word, outcome_color(r.outcome), o) << spaces_after(word.size(), word_column)
        << name << spaces_after(display_width(name), name_column)
        << std::string(time_w < time_column ? time_column - time_w : 0, ' ') << time << '\n';
}

struct TableCell {
    std::string text;
    const char* color = nullptr;
};

std::vector<std::string> matrix_columns(const ExperimentResult& r) {
    std::vector<std::string> columns = r.vantages;
    // A cell naming a vantage the result does not list still gets a column, after the others.
    for (auto& row : r.rows)
        for (auto& c : row.cells)
            if (std::find(columns.begin(), columns.end(), c.vantage) == columns.end())
                columns.push_back(c.vantage);
    return columns;
}

TableCell matrix_cell(const runner::Row& row, const std::string& vantage) {
    auto it = std::find_if(row.cells.begin(), row.cells.end(),
                           [&](const runner::Cell& c) { return c.vantage == vantage; });
    if (it == row.cells.end()) return {"·", dim};
    if (it->ok) return {cell_value(it->observed) + " ✓", nullptr};
    return {"✗ expected " + cell_value(it->expected) + ", saw " + cell_value(it->observed),
            bold_red};
}

void write_table(std::ostream& out, const std::vector<std::vector<TableCell>>& table,
                 const PrettyOptions& o) {
    std::vector<std::size_t> widths;
    for (auto& row : table) {
        if (widths.size() < row.size()) widths.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i].text));
    }
    auto write_row = [&](const std::vector<TableCell>& row) {
        std::string line(indent);
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (i) line += gap;
            line += paint(row[i].text, row[i].color, o);
            line.append(widths[i] - display_width(row[i].text), ' ');
        }
        rstrip(line);
        out << line << '\n';
    };
    write_row(table.front());
    std::string underline(indent);
    for (std::size_t i = 0; i < widths.size(); ++i) {
        if (i) underline += gap;
        underline.append(widths[i], '-');
    }
    out << underline << '\n';
    for (std::size_t i = 1; i < table.size(); ++i) write_row(table[i]);
}

// The visibility matrix: a row per expectation, a column per vantage.
void write_matrix(std::ostream& out, const ExperimentResult& r, const PrettyOptions& o) {
    const std::vector<std::string> columns = matrix_columns(r);
    std::vector<std::vector<TableCell>> table;
    std::vector<TableCell> header{{"expect", nullptr}};
    for (auto& v : columns) header.push_back({one_line(v), nullptr});
    table.push_back(std::move(header));
    for (auto& row : r.rows) {
        std::vector<TableCell> line{
            {truncate_width(one_line(row.label), value_width), row.ok ? nullptr : red}};
        for (auto& v : columns) line.push_back(matrix_cell(row, v));
        table.push_back(std::move(line));
    }
    write_table(out, table, o);

    // Where each failing row is written, and why it should have held.
    for (auto& row : r.rows) {
        if (row.ok) continue;
        const std::string where = mark_text(row.mark);
        if (where.empty() && row.why.empty()) continue;
        out << indent << paint("✗", bold_red, o) << ' ' << one_line(row.label);
        if (!where.empty()) out << " at " << where;
        out << '\n';
        if (!row.why.empty()) out << indent << "  why: " << one_line(row.why) << '\n';
    }
}

void write_detail(std::ostream& out, std::string_view detail) {
    std::vector<std::string_view> lines;
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r'))
        detail.remove_suffix(1);
    while (!detail.empty()) {
        const auto nl = detail.find('\n');
        lines.push_back(detail.substr(0, nl));
        if (nl == std::string_view::npos) break;
        detail.remove_prefix(nl + 1);
    }
    const std::size_t shown = std::min(lines.size(), detail_lines);
    for (std::size_t i = 0; i < shown; ++i) {
        std::string line =
            std::string(indent) + "  " + truncate_width(one_line(lines[i]), detail_width);
        rstrip(line);
        out << line << '\n';
    }
    if (lines.size() > shown) out << indent << "  … " << lines.size() - shown << " more lines\n";
}

void write_failed_steps(std::ostream& out, const ExperimentResult& r, const PrettyOptions& o) {
    for (auto& step : r.steps) {
        if (step.ok) continue;
        out << indent << paint("✗", bold_red, o) << " step " << one_line(step.source);
        const std::string where = mark_text(step.mark);
        if (!where.empty()) out << " at " << where;
        out << '\n';
        write_detail(out, step.detail);
    }
}

void write_list(std::ostream& out, std::string_view label, const std::vector<std::string>& items) {
    if (items.empty()) return;
    std::vector<std::string> clean;
    for (auto& i : items) clean.push_back(one_line(i));
    out << indent << label << ": " << join(clean, ", ") << '\n';
}

bool has_cells(const ExperimentResult& r) {
    return std::any_of(r.rows.begin(), r.rows.end(),
                       [](const runner::Row& row) { return !row.cells.empty(); });
}

}  // namespace

void write_pretty_result(std::ostream& out, const ExperimentResult& r, const PrettyOptions& o) {
    write_header(out, r, o);
    const bool failed = r.outcome == Outcome::fail || r.outcome == Outcome::broken;
    if (r.outcome != Outcome::pass && !r.reason.empty())
        out << indent << one_line(r.reason) << '\n';
    if (has_cells(r) && (r.outcome != Outcome::pass || o.matrix_on_pass)) write_matrix(out, r, o);
    if (!failed) return;
    write_failed_steps(out, r, o);
    write_list(out, "refs", r.refs);
    write_list(out, "tags", r.tags);
}

void write_pretty_summary(std::ostream& out, const std::vector<ExperimentResult>& results,
                          const runner::RunSummary& summary, const PrettyOptions& o) {
    std::vector<std::string> broken, failed;
    for (auto& r : results) {
        if (r.outcome == Outcome::broken) broken.push_back(one_line(r.full_name()));
        if (r.outcome == Outcome::fail) failed.push_back(one_line(r.full_name()));
    }
    if (!broken.empty())
        out << paint("BROKEN", magenta, o) << " (counted as failed): " << join(broken, ", ")
            << '\n';
    if (!failed.empty()) out << paint("FAILED", red, o) << ": " << join(failed, ", ") << '\n';
    // Parsed by CI tooling: exactly this, alone on its line, never coloured.
    out << summary.passed << " passed, " << summary.failed + summary.broken << " failed, "
        << summary.skipped << " skipped\n";
    out << "in " << fixed(summary.wall_ms / 1000, 2) << " s";
    if (summary.wall_ms > 0 && summary.total() > 0)
        out << " (" << fixed(summary.total() / (summary.wall_ms / 1000), 1) << " experiments/s)";
    out << '\n';
}

}  // namespace nslab::report
