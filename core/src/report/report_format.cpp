#include "report/report_format.h"

#include <cmath>
#include <cstdio>

#include "util/strings.h"

namespace compass::report_format {

using json = nlohmann::json;

json NumberOrNull(double v) {
  return std::isnan(v) ? json() : json(v);
}

std::string Dump(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string Fixed(double v, int digits) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string FigureText(const StoredFigure& f) {
  char buf[64];
  switch (f.unit) {
    case COMPASS_UNIT_BYTES: return FormatBytes(static_cast<uint64_t>(f.value));
    case COMPASS_UNIT_SECONDS: std::snprintf(buf, sizeof buf, "%.3f s", f.value); break;
    case COMPASS_UNIT_RATIO: std::snprintf(buf, sizeof buf, "%.1f %%", f.value * 100); break;
    case COMPASS_UNIT_PER_SECOND: std::snprintf(buf, sizeof buf, "%.1f /s", f.value); break;
    default: std::snprintf(buf, sizeof buf, "%.6g", f.value); break;
  }
  return buf;
}

std::string Html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string MdCell(std::string s) {
  for (size_t p = 0; (p = s.find('|', p)) != std::string::npos; p += 2) s.replace(p, 1, "\\|");
  return s;
}

}  // namespace compass::report_format
