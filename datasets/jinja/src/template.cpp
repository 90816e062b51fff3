#include "compass/jinja/template.h"

#include "evaluator.h"
#include "parser.h"

namespace compass::jinja {

struct Template::Parsed {
  std::vector<Node> nodes;
};

namespace {

void collect_text(const std::vector<Node>& nodes, std::vector<std::string>& out) {
  for (const Node& n : nodes) {
    if (n.kind == Node::Kind::kText) out.push_back(n.text);
    for (const Node::Branch& b : n.branches) collect_text(b.body, out);
    collect_text(n.body, out);
    collect_text(n.else_body, out);
  }
}

}  // namespace

Template::Template(std::string_view source) : source_(source) {
  auto parsed = std::make_shared<Parsed>();
  parsed->nodes = parse(source_);
  names_ = free_names(parsed->nodes);
  parsed_ = std::move(parsed);
}

std::string Template::render(const Value& doc) const {
  return jinja::render(parsed_->nodes, doc, source_);
}

std::optional<Value> Template::value(const Value& doc) const {
  const std::vector<Node>& nodes = parsed_->nodes;
  if (nodes.size() != 1 || nodes[0].kind != Node::Kind::kOutput) return std::nullopt;
  return evaluate(*nodes[0].expr, doc, source_);
}

std::vector<std::string> Template::text_parts() const {
  std::vector<std::string> out;
  collect_text(parsed_->nodes, out);
  return out;
}

bool Template::has_markup(std::string_view text) {
  return text.find("{{") != std::string_view::npos || text.find("{%") != std::string_view::npos ||
         text.find("{#") != std::string_view::npos;
}

}  // namespace compass::jinja
