#include "workloads/support/protocol.h"

#include <unistd.h>

#include <cstring>

namespace lab {

std::optional<DriverStatus> driver_status_named(std::string_view name) {
  for (const DriverStatusInfo& s : kDriverStatuses)
    if (name == s.name) return s.status;
  return std::nullopt;
}

namespace {

// Formats the status line and a newline into buffer[0, size) without
// allocating; returns its length. A reason too long for the buffer is cut.
size_t format_status_line(DriverStatus status, const char* reason, char* buffer, size_t size) {
  size_t n = 0;
  const auto put = [&](const char* text) {
    for (; *text != '\0' && n + 8 < size; ++text) buffer[n++] = *text;
  };
  put("{\"status\":\"");
  put(info_of(status).name);
  put("\",\"reason\":\"");
  // JSON string escaping: quotes, backslashes and control characters.
  for (const char* p = reason; *p != '\0' && n + 16 < size; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\') {
      buffer[n++] = '\\';
      buffer[n++] = static_cast<char>(c);
    } else if (c < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15], '\0'};
      put(escaped);
    } else {
      buffer[n++] = static_cast<char>(c);
    }
  }
  put("\"}\n");
  return n;
}

}  // namespace

std::string status_line(DriverStatus status, const std::string& reason) {
  std::string line(reason.size() * 6 + 64, '\0');
  line.resize(format_status_line(status, reason.c_str(), line.data(), line.size()) - 1);  // without the newline
  return line;
}

void write_status_line(DriverStatus status, const char* reason) {
  char buffer[1024];
  const size_t n = format_status_line(status, reason, buffer, sizeof buffer);
  for (size_t done = 0; done < n;) {
    const ssize_t w = ::write(STDOUT_FILENO, buffer + done, n - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
}

std::optional<StatusLine> read_status_line(const std::string& stdout_text, std::string* error) {
  const size_t end = stdout_text.find_last_not_of('\n');
  if (end == std::string::npos) {
    *error = "no status line on stdout";
    return std::nullopt;
  }
  const size_t newline = stdout_text.rfind('\n', end);
  const size_t from = newline == std::string::npos ? 0 : newline + 1;
  const std::string last = stdout_text.substr(from, end + 1 - from);
  nlohmann::ordered_json line;
  try {
    line = nlohmann::ordered_json::parse(last);
  } catch (const std::exception& e) {
    *error = std::string("the last line of stdout is not JSON (") + e.what() + ")";
    return std::nullopt;
  }
  if (!line.is_object() || !line.contains("status") || !line["status"].is_string()) {
    *error = "the last line of stdout has no \"status\"";
    return std::nullopt;
  }
  const auto status = driver_status_named(line["status"].get<std::string>());
  if (!status) {
    *error = "unknown driver status \"" + line["status"].get<std::string>() + "\"";
    return std::nullopt;
  }
  StatusLine out{*status, "", line};
  if (line.contains("reason") && line["reason"].is_string()) out.reason = line["reason"].get<std::string>();
  return out;
}

}  // namespace lab
