// The text helpers under the renderers.
#include <gtest/gtest.h>

#include <clocale>
#include <string>

#include "report/text_util.hpp"

namespace nslab::report {
namespace {

using namespace std::string_literals;

TEST(OneLine, JoinsLinesAndDropsTrailingBreaks) {
    EXPECT_EQ(one_line("a\nb\r\nc\n\n"), "a⏎b⏎c");
    EXPECT_EQ(one_line("tab\there  "), "tab here");
    EXPECT_EQ(one_line(""), "");
}

TEST(OneLine, EscapesControlsAndBadBytes) {
    EXPECT_EQ(one_line("\x1b[1mx\x7f"), "\\x1b[1mx\\x7f");
    EXPECT_EQ(one_line("\0z"s), "\\x00z");
    EXPECT_EQ(one_line("a\xff"
                       "b"),
              "a\\xffb");
    EXPECT_EQ(one_line("\xc2\x9b"
                       "c"),
              "\\u009bc")
        << "C1 CSI";
    EXPECT_EQ(one_line("\xed\xa0\x80"), "\\xed\\xa0\\x80") << "a surrogate is not UTF-8";
    EXPECT_EQ(one_line("\xc0\xaf"), "\\xc0\\xaf") << "overlong";
    EXPECT_EQ(one_line("héllo ✓ 名前"), "héllo ✓ 名前");
}

TEST(DisplayWidth, CountsColumnsNotBytes) {
    EXPECT_EQ(display_width("abc"), 3u);
    EXPECT_EQ(display_width("✓ ✗ · … ⏎"), 9u);
    EXPECT_EQ(display_width("名前"), 4u);
    EXPECT_EQ(display_width("e\xcc\x81"), 1u) << "e + combining acute";
}

TEST(TruncateWidth, CutsOnCodePointsAndMarksTheCut) {
    EXPECT_EQ(truncate_width("short", 10), "short");
    EXPECT_EQ(truncate_width("exactly10!", 10), "exactly10!");
    EXPECT_EQ(truncate_width("abcdefghijk", 10), "abcdefghi…");
    EXPECT_EQ(truncate_width("ééééé", 3), "éé…");
    EXPECT_EQ(truncate_width("名前名前", 4), "名…");
    EXPECT_EQ(truncate_width("abc", 0), "");
}

TEST(PadRight, PadsByDisplayWidth) {
    EXPECT_EQ(pad_right("✓", 3), "✓  ");
    EXPECT_EQ(pad_right("long", 2), "long");
}

TEST(XmlEscape, ContentAndAttributes) {
    EXPECT_EQ(xml_escape(R"(<a & "b" 'c'>)", false), "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;");
    EXPECT_EQ(xml_escape("l1\nl2\tx\r", false), "l1\nl2\tx&#13;");
    EXPECT_EQ(xml_escape("l1\nl2\tx\r", true), "l1&#10;l2&#9;x&#13;");
    EXPECT_EQ(xml_escape("a\x01"
                         "b\xff"
                         "c\x7f",
                         false),
              "a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD"
              "c\xEF\xBF\xBD");
    EXPECT_EQ(xml_escape("\xef\xbf\xbf", false), "\xEF\xBF\xBD") << "U+FFFF is not an XML char";
    EXPECT_EQ(xml_escape("名前 ✓ 😀", false), "名前 ✓ 😀");
}

TEST(Fixed, LocaleIndependentAndClamped) {
    const char* old = std::setlocale(LC_NUMERIC, nullptr);
    const std::string saved = old ? old : "C";
    std::setlocale(LC_NUMERIC, "de_DE.UTF-8");  // may not exist; then this just runs in C
    EXPECT_EQ(fixed(1.23456, 3), "1.235");
    std::setlocale(LC_NUMERIC, saved.c_str());
    EXPECT_EQ(fixed(0, 2), "0.00");
    EXPECT_EQ(fixed(-5, 1), "0.0");
    EXPECT_EQ(fixed(1e300, 0).size(), 301u);
}

TEST(HumanDuration, PicksAUnit) {
    EXPECT_EQ(human_duration(0.42), "0.42 ms");
    EXPECT_EQ(human_duration(3.1), "3.1 ms");
    EXPECT_EQ(human_duration(999.9), "999.9 ms");
    EXPECT_EQ(human_duration(1250), "1.25 s");
    EXPECT_EQ(human_duration(125000), "2 min 5.0 s");
    EXPECT_EQ(human_duration(119990), "2 min 0.0 s");
    EXPECT_EQ(human_duration(-1), "0.00 ms");
}

TEST(MarkText, OmitsWhatIsUnset) {
    EXPECT_EQ(mark_text({.file = "s.yaml", .line = 3, .column = 7}), "s.yaml:3:7");
    EXPECT_EQ(mark_text({.file = "s.yaml", .line = 3}), "s.yaml:3");
    EXPECT_EQ(mark_text({}), "");
}

}  // namespace
}  // namespace nslab::report
