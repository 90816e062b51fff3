// A template in the subset of Jinja that lm-evaluation-harness task files
// use for prompts, rendered as lm-eval renders it (jinja2 with
// StrictUndefined and keep_trailing_newline, plus its regex_replace filter).
//
// Supported: {{ expression }}, {% if %}/{% elif %}/{% else %}/{% endif %},
// {% for x in ... %}/{% else %}/{% endfor %} (with loop.index, loop.first,
// ...), {% set x = ... %}, {# comments #}, whitespace control ({{- -}}).
// Expressions: literals (strings, integers, floats, true/false/none, lists,
// dicts), names, attributes (a.b, a.0), subscripts and slices (a[0],
// a[1:-1]), x if c else y, and/or/not, comparisons, in, + - * / // % ** ~,
// filters (abs, capitalize, count, default, first, float, int, join, last,
// length, list, lower, map, regex_replace, replace, reverse, string, sum,
// trim, upper), tests (x is defined, none, string, number, ...), range(),
// and the methods of str (strip, lstrip, rstrip, split, replace, lower,
// upper, capitalize, startswith, endswith, index, find, rfind, count, join,
// isdigit), list (index, count) and dict (keys, values, items, get).
// Strings are indexed in code points, as in Python. Anything else is a
// SyntaxError when the template is parsed, or an Error when it is rendered,
// naming it; nothing is silently rendered differently.
#ifndef COMPASS_JINJA_TEMPLATE_H_
#define COMPASS_JINJA_TEMPLATE_H_

#include "compass/jinja/value.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::jinja {

class Template {
 public:
  // Parses `source`; throws SyntaxError.
  explicit Template(std::string_view source);

  const std::string& source() const { return source_; }

  // Renders with the keys of `doc` (a dict) as the names the template
  // reads. Throws Error, UndefinedError for a name `doc` lacks.
  std::string render(const Value& doc) const;

  // For a template that is one {{ expression }} and nothing else (such as
  // "{{[sol1, sol2]}}"), the expression's value before it is printed;
  // nullopt for any other template. Throws as render().
  std::optional<Value> value(const Value& doc) const;

  // The names the template reads from the document, in order of first use;
  // empty when every rendering gives the same text.
  const std::vector<std::string>& names() const { return names_; }

  // The template's literal text (outside {{ }} and {% %}), piece by piece.
  std::vector<std::string> text_parts() const;

  // Whether `text` holds Jinja markup: "{{", "{%" or "{#".
  static bool has_markup(std::string_view text);

 private:
  struct Parsed;
  std::string source_;
  std::shared_ptr<const Parsed> parsed_;
  std::vector<std::string> names_;
};

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_TEMPLATE_H_
