#include "compass/plugin_support/csv.h"

#include "datasets/dataset_test_util.h"

#include <gtest/gtest.h>

namespace compass::plugin_support {
namespace {

using Fields = std::vector<std::string>;

std::vector<Fields> fields_of(const std::vector<CsvRecord>& records) {
  std::vector<Fields> out;
  for (const auto& r : records) out.push_back(r.fields);
  return out;
}

std::vector<uint64_t> lines_of(const std::vector<CsvRecord>& records) {
  std::vector<uint64_t> out;
  for (const auto& r : records) out.push_back(r.line);
  return out;
}

// Returns the CsvError thrown by parsing `text`; fails the test if none.
CsvError parse_error(std::string_view text) {
  try {
    parse_csv(text, "in.csv");
  } catch (const CsvError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << text;
  return CsvError("none", 0, "none");
}

TEST(CsvTest, PlainFields) {
  const auto records = parse_csv("a,b,c\n1,2,3\n", "in.csv");
  EXPECT_EQ(fields_of(records), (std::vector<Fields>{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{1, 2}));
}

TEST(CsvTest, QuotedCommasAndDoubledQuotes) {
  const auto records = parse_csv("\"True, True\",\"say \"\"hi\"\"\",\"\"\"\"\n", "in.csv");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"True, True", "say \"hi\"", "\""}));
}

TEST(CsvTest, NewlinesInsideQuotesKeepLineNumbers) {
  const auto records =
      parse_csv("\"one\ntwo\nthree\",x\nnext,y\n\"crlf\r\ninside\",z\r\nlast,w", "in.csv");
  EXPECT_EQ(fields_of(records),
            (std::vector<Fields>{
                {"one\ntwo\nthree", "x"}, {"next", "y"}, {"crlf\r\ninside", "z"}, {"last", "w"}}));
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{1, 4, 5, 7}));
}

TEST(CsvTest, CrlfRecordEndsAreNotPartOfFields) {
  const auto records = parse_csv("a,b\r\nc,d\r\n", "in.csv");
  EXPECT_EQ(fields_of(records), (std::vector<Fields>{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{1, 2}));
}

TEST(CsvTest, EmptyFieldsBlankLinesAndBom) {
  const auto records = parse_csv(
      "\xEF\xBB\xBF"
      "a,,b,\n\n\"\"\n,\n",
      "in.csv");
  EXPECT_EQ(fields_of(records), (std::vector<Fields>{{"a", "", "b", ""}, {""}, {"", ""}}));
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(fields_of(parse_csv("a,", "in.csv")), (std::vector<Fields>{{"a", ""}}));
  EXPECT_TRUE(parse_csv("", "in.csv").empty());
}

TEST(CsvTest, UnterminatedQuoteReportsTheLineWhereTheRecordStarts) {
  const CsvError e = parse_error("a,b\nc,d\ne,\"never\nclosed,f\ng\n");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
  EXPECT_NE(std::string(e.what()).find("in.csv:3: unterminated quoted field 2"), std::string::npos)
      << e.what();
}

TEST(CsvTest, TextAfterClosingQuoteIsMalformed) {
  const CsvError e = parse_error("\"multi\nline\",ok\n\"x\"y,z\n");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_NE(std::string(e.what()).find("in.csv:3: unexpected text after the closing quote"),
            std::string::npos)
      << e.what();
}

TEST(CsvTest, QuoteInsideUnquotedFieldIsText) {
  // As Python's csv reads it; real MMLU rows have this shape.
  const auto records = parse_csv("a,b\nTo Truth?\",x\"y,c\n", "in.csv");
  EXPECT_EQ(fields_of(records), (std::vector<Fields>{{"a", "b"}, {"To Truth?\"", "x\"y", "c"}}));
}

TEST(CsvTest, InvalidUtf8ReportsItsLine) {
  const CsvError e = parse_error("ok,\xC3\xA9\nbad,\xC3(\n");
  EXPECT_EQ(e.line(), 2u);
  EXPECT_NE(std::string(e.what()).find("invalid UTF-8"), std::string::npos) << e.what();
}

TEST(CsvTest, ReadsFilesAndNamesMissingOnes) {
  const testing::TempDir dir("csv");
  const auto file = dir.write("x.csv", "q,\"a\nb\"\r\nr,s");
  const auto records = read_csv_file(file);
  EXPECT_EQ(fields_of(records), (std::vector<Fields>{{"q", "a\nb"}, {"r", "s"}}));
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{1, 3}));

  const sdk::Error e = testing::error_of([&] { read_csv_file(dir.root() / "missing.csv"); });
  EXPECT_EQ(e.code(), COMPASS_NOT_FOUND);
  EXPECT_NE(std::string(e.what()).find("missing.csv"), std::string::npos);
}

}  // namespace
}  // namespace compass::plugin_support
