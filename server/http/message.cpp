// Request header lookup, the server's error bodies and the response serializer.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "http/server.h"
#include "http/wire.h"

namespace mandate::http {

const std::string* Request::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return &v;
  return nullptr;
}

std::size_t Request::headerCount(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; }));
}

namespace {

void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// RFC 9110 token characters, for header names.
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool isSafeValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string_view reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

void appendNumber(std::string& out, long long v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

// RFC 9110 §6.6.1: an origin server with a clock sends Date. Formatted once a second per thread.
std::string_view httpDate() {
  thread_local std::time_t cachedSecond = -1;
  thread_local char cached[40];
  thread_local std::size_t cachedLength = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cachedSecond) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    // Not strftime: %a and %b follow the locale, and the format wants English names.
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int n = std::snprintf(cached, sizeof cached, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                          tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cachedLength = n > 0 ? static_cast<std::size_t>(n) : 0;
    cachedSecond = now;
  }
  return {cached, cachedLength};
}

bool iequalsAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

Response errorResponse(int status, std::string_view error, std::string_view description) {
  Response r;
  r.status = status;
  r.contentType = "application/json";
  r.body.reserve(32 + error.size() + description.size());
  r.body += "{\"error\":";
  appendJsonString(r.body, error);
  r.body += ",\"error_description\":";
  appendJsonString(r.body, description);
  r.body += '}';
  return r;
}

namespace detail {

std::string serializeResponse(const Response& r, WireOptions wire) {
  const int status = (r.status >= 100 && r.status <= 999) ? r.status : 500;
  // RFC 9110 §6.4.1: 1xx, 204 and 304 have no content. No Content-Length for them either (for
  // 304 it would have to be the length of the 200 response, which we do not know).
  const bool noBody = status < 200 || status == 204 || status == 304;
  const bool lengthHeader = !noBody;
  std::string out;
  std::size_t extra = 0;
  for (const auto& [n, v] : r.headers) extra += n.size() + v.size() + 4;
  out.reserve(96 + r.contentType.size() + extra + (noBody || wire.head ? 0 : r.body.size()));
  out += "HTTP/1.1 ";
  appendNumber(out, status);
  out += ' ';
  out += reason(status);
  out += "\r\n";
  if (!r.contentType.empty() && isSafeValue(r.contentType) && !noBody) {
    out += "Content-Type: ";
    out += r.contentType;
    out += "\r\n";
  }
  if (lengthHeader) {
    out += "Content-Length: ";
    appendNumber(out, static_cast<long long>(r.body.size()));
    out += "\r\n";
  }
  bool ownDate = false;
  for (const auto& [n, v] : r.headers) {
    if (!isToken(n) || !isSafeValue(v)) continue;
    ownDate = ownDate || iequalsAscii(n, "date");
    out += n;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!ownDate) {
    out += "Date: ";
    out += httpDate();
    out += "\r\n";
  }
  if (wire.close)
    out += "Connection: close\r\n";
  else if (wire.keepAlive10)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
  if (!noBody && !wire.head) out += r.body;
  return out;
}

}  // namespace detail
}  // namespace mandate::http
