// The Jinja subset against jinja2 itself: every case of
// tests/fixtures/lm_eval/jinja_cases.json (rendered by jinja2 with
// lm-evaluation-harness's environment, scripts/goldens/make_jinja_goldens.py)
// renders to the same text; and what the subset refuses, it refuses with a
// message naming the place.
#include "compass/jinja/error.h"
#include "compass/jinja/python_literal.h"
#include "compass/jinja/template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace compass::jinja {
namespace {

Value read_cases() {
  std::ifstream in(std::filesystem::path(COMPASS_SOURCE_DIR) /
                   "tests/fixtures/lm_eval/jinja_cases.json");
  std::stringstream text;
  text << in.rdbuf();
  return Value::parse(text.str());
}

std::string render(const std::string& source, const Value& doc = Value::object()) {
  return Template(source).render(doc);
}

template <typename E = Error>
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(JinjaTemplateTest, RendersLikeJinja2) {
  const Value golden = read_cases();
  const Value& doc = golden.at("doc");
  ASSERT_GE(golden.at("cases").size(), 70u);
  for (const Value& c : golden.at("cases")) {
    const std::string source = c.at("template").get<std::string>();
    std::string got;
    try {
      got = Template(source).render(doc);
    } catch (const Error& e) {
      ADD_FAILURE() << source << ": " << e.what();
      continue;
    }
    EXPECT_EQ(got, c.at("expected").get<std::string>()) << "template: " << source;
  }
}

TEST(JinjaTemplateTest, NamesAreWhatTheTemplateReads) {
  EXPECT_EQ(Template("Question: {{goal}}\nAnswer:").names(), (std::vector<std::string>{"goal"}));
  EXPECT_EQ(Template("{{[sol1, sol2]}}").names(), (std::vector<std::string>{"sol1", "sol2"}));
  EXPECT_EQ(Template("{% set a = 1 %}{% for i in range(3) %}{{ i + a + loop.index }}{% endfor %}")
                .names(),
            std::vector<std::string>{});
  EXPECT_EQ(Template("{{ doc.x | default(y) }}").names(), (std::vector<std::string>{"doc", "y"}));
  // Single braces are text: nothing is read.
  EXPECT_TRUE(Template("Question: {goal}").names().empty());
  EXPECT_EQ(Template("Question: {goal}").text_parts(),
            (std::vector<std::string>{"Question: {goal}"}));
}

TEST(JinjaTemplateTest, ValueOfASingleExpression) {
  const Value doc = {{"sol1", "a"}, {"sol2", "b"}, {"n", 3}};
  EXPECT_EQ(Template("{{[sol1, sol2]}}").value(doc), Value::array({"a", "b"}));
  EXPECT_EQ(Template("{{ n }}").value(doc), Value(3));
  EXPECT_EQ(Template(" {{ n }}").value(doc), std::nullopt);
  EXPECT_EQ(Template("{{ n }}{{ n }}").value(doc), std::nullopt);
  EXPECT_TRUE(Template::has_markup("a {{ b }}"));
  EXPECT_TRUE(Template::has_markup("{% if x %}"));
  EXPECT_FALSE(Template::has_markup("label"));
  EXPECT_FALSE(Template::has_markup("{label}"));
}

TEST(JinjaTemplateTest, SyntaxErrorsNameThePlace) {
  EXPECT_EQ(error_of<SyntaxError>([] { Template("Q: {{ goal"); }),
            "tag '{{' is never closed with '}}' at column 4");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{{ }}"); }),
            "empty expression '{{ }}' at column 1");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{{ a + }}"); }),
            "expected a value, got the end of the tag at column 8");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{{ a ) }}"); }), "unexpected ')' at column 6");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{{ 'abc }}"); }),
            "string literal is never closed at column 4");
  EXPECT_EQ(
      error_of<SyntaxError>([] { Template("a\n{% if x %}b"); }),
      "'{% if %}' is never closed (expected {% elif or else or endif %}) at line 2, column 1");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{% endif %}"); }),
            "'{% endif %}' without its opening statement at column 1");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{% macro m() %}{% endmacro %}"); }),
            "statement 'macro' is not supported (supported: if, elif, else, endif, for, else, "
            "endfor, set) at column 1");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{# note"); }),
            "comment '{#' is never closed with '#}' at column 1");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{{ a $ b }}"); }),
            "unexpected character '$' at column 6");
  EXPECT_EQ(error_of<SyntaxError>([] { Template("{% for x in y if x %}{% endfor %}"); }),
            "loop 'if' is not supported at column 15");
}

TEST(JinjaTemplateTest, RenderErrorsNameThePlace) {
  const Value doc = {{"goal", "tea"}, {"n", 3}, {"items", {"a"}}};
  EXPECT_EQ(error_of<UndefinedError>([&] { render("Q: {{ question }}", doc); }),
            "'question' is undefined at column 7");
  EXPECT_EQ(error_of<UndefinedError>([&] { render("{{ items[3] }}", doc); }),
            "list object has no element 3 at column 9");
  EXPECT_EQ(error_of([&] { render("{{ goal + n }}", doc); }),
            "unsupported operand type(s) for +: 'str' and 'int' at column 9");
  EXPECT_EQ(error_of([&] { render("{{ goal.index('z') }}", doc); }),
            "substring not found (str.index of 'z') at column 14");
  EXPECT_EQ(error_of([&] {
              render("{{ goal | title }}", doc);
            }).rfind("filter 'title' is not supported (supported: default, abs, ", 0),
            0u);
  EXPECT_EQ(error_of([&] { render("{{ goal.strip }}", doc); }),
            "'strip' is a method of str: call it, as in .strip() at column 8");
  EXPECT_EQ(error_of([&] { render("{{ goal.title() }}", doc); }),
            "str method 'title' is not supported at column 14");
  EXPECT_EQ(error_of([&] { render("{{ n / 0 }}", doc); }), "division by zero at column 6");
  EXPECT_EQ(error_of([&] { render("{{ goal | regex_replace('a', '\\\\1') }}", doc); }),
            "a replacement with backslashes (group references or escapes) is not supported: "
            "'\\\\1' at column 11");
  EXPECT_EQ(error_of<UndefinedError>([&] { render("{{ 'x' if n > 5 }}", doc); }),
            "the condition is false and the expression has no else at column 8");
}

TEST(JinjaTemplateTest, PythonLiteral) {
  EXPECT_EQ(parse_python_literal("['Boil water.', 'Freeze it\\'s \"water\".']"),
            Value::array({"Boil water.", "Freeze it's \"water\"."}));
  EXPECT_EQ(parse_python_literal(" [1, -2, 3.5, True, None, 'a' 'b', (1,), (2)] "),
            Value::parse(R"([1, -2, 3.5, true, null, "ab", [1], 2])"));
  EXPECT_EQ(parse_python_literal("{'a': [1], 2: 'x'}").dump(), R"({"a":[1],"\u00012":"x"})");
  EXPECT_EQ(parse_python_literal("'caf\\xe9 \\u00e9\\n'"), Value("caf\xC3\xA9 \xC3\xA9\n"));
  EXPECT_EQ(parse_python_literal("\"\"\"tri'ple\"\"\""), Value("tri'ple"));
  EXPECT_EQ(error_of([] { parse_python_literal("[a, b]"); }),
            "not a Python literal: unexpected character at column 2");
  EXPECT_EQ(error_of([] { parse_python_literal("['a' 'b'"); }),
            "not a Python literal: expected ',' or ']' at column 9");
  EXPECT_EQ(error_of([] { parse_python_literal("[1] x"); }),
            "not a Python literal: unexpected text after the value at column 5");
}

TEST(JinjaTemplateTest, PrintsValuesAsPython) {
  EXPECT_EQ(to_str(Value(1e16)), "1e+16");
  EXPECT_EQ(to_str(Value(123.0)), "123.0");
  EXPECT_EQ(to_str(Value(1.5e-7)), "1.5e-07");
  EXPECT_EQ(to_str(Value(0.001)), "0.001");
  EXPECT_EQ(repr(Value("a'b\"c")), "'a\\'b\"c'");
  EXPECT_EQ(repr(Value("\xC2\xA0\xE2\x80\x8B\x01")), "'\\xa0\\u200b\\x01'");
  EXPECT_EQ(to_str(Value::parse(R"({"b": [1, "x"], "a": null})")), "{'b': [1, 'x'], 'a': None}");
}

}  // namespace
}  // namespace compass::jinja
