#include <attnzoo/core/diagnostics.h>

#include <cstdio>
#include <mutex>

namespace attnzoo {
namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

WarningSink& current_sink() {
  static WarningSink sink;
  return sink;
}

}  // namespace

void warn(const std::string& line) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  if (current_sink()) return current_sink()(line);
  std::fprintf(stderr, "attnzoo: warning: %s\n", line.c_str());
}

std::string first_line_of(const std::string& torch_message) {
  std::string line = torch_message.substr(0, torch_message.find('\n'));
  return line.substr(0, line.find("  (Could this error message be improved?"));
}

WarningSink set_warning_sink(WarningSink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  WarningSink previous = std::move(current_sink());
  current_sink() = std::move(sink);
  return previous;
}

}  // namespace attnzoo
