// Jinja templates as lm-evaluation-harness tasks write them (doc_to_text,
// doc_to_choice, doc_to_target): the input is the template, a NUL byte,
// then the document as JSON. Parsing and rendering may only throw
// jinja::Error (a syntax error, an undefined name, a type error).
#include <cstddef>
#include <cstdint>

#include "compass/jinja/error.h"
#include "compass/jinja/template.h"
#include "fuzz_support.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::SplitAtNul(data, size, 2);
  jinja::Value doc = jinja::Value::parse(parts[1], nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) doc = jinja::Value::object();
  try {
    const jinja::Template tmpl(parts[0]);
    (void)tmpl.names();
    (void)tmpl.text_parts();
    (void)tmpl.render(doc);
    (void)tmpl.value(doc);
  } catch (const jinja::Error&) {
  }
  return 0;
}
