#pragma once
// Warnings from library code: one line each, through one replaceable sink (stderr by default), so a
// command-line user sees them and a test can capture them.
#include <functional>
#include <string>

namespace attnzoo {

using WarningSink = std::function<void(const std::string& line)>;

/// Reports one warning line (no trailing newline). The default sink prints "attnzoo: warning: <line>".
void warn(const std::string& line);

/// The first line of a LibTorch error without its "(Could this error message be improved? ...)" tail:
/// LibTorch's messages run to many lines (dispatcher dumps), attnzoo reports one.
std::string first_line_of(const std::string& torch_message);

/// Replaces the sink; returns the previous one (pass it back to restore). nullptr restores stderr.
WarningSink set_warning_sink(WarningSink sink);

}  // namespace attnzoo
