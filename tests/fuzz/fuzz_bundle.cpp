// libFuzzer target for the bundle loader (bundle::load) and what runs a loaded bundle.
//
// Property (a violation abort()s, which libFuzzer reports as a crash; the sanitizers catch
// memory errors, undefined behaviour and leaks): every input is either refused with an error
// message, or loads into a bundle that is safe to run — evaluated on an empty frame and on a
// frame with a value of the declared type in every attribute, traced, and rendered as JSON and
// text, without crashing.
//
// A mutated bundle almost never survives the SHA-256 content hash (nor the schema hash), so
// each input is loaded twice: as it is (the hash and signature checks), and "resealed" — its
// schema hash and content hash recomputed and any signature dropped — so that mutations reach
// the section decoders and the verifier behind the hashes.
//
// Built by tests/fuzz/CMakeLists.txt: with MANDATE_FUZZ=ON as the libFuzzer binary
// `fuzz_bundle`; otherwise as `fuzz_bundle_replay`, which runs the committed corpus
// (tests/fuzz/corpus/bundle) through the same checks as a ctest test.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bundle/codec.h"
#include "vm/frame.h"
#include "vm/report.h"
#include "vm/vm.h"

namespace {

using namespace mandate;

void sha256(std::string_view data, unsigned char out[32]) {
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr) != 1 || n != 32) std::abort();
}

std::uint32_t readU32(std::string_view d, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(d[at + i])) << (8 * i);
  return v;
}

// The input with a correct schema hash and content hash and no signature, or nothing when the
// header or the section table is too broken to find the schema section and the content's end.
// Layout: magic(8) version(4) schema-hash(32) count(4) {id(4) len(4) payload}... hash section.
std::optional<std::string> reseal(std::string_view in) {
  constexpr std::size_t kHeader = 8 + 4 + 32 + 4;
  if (in.size() < kHeader) return std::nullopt;
  std::uint32_t count = readU32(in, 44);
  if (count > 16) return std::nullopt;
  std::size_t pos = kHeader;
  std::string_view schema;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (in.size() - pos < 8) return std::nullopt;
    std::uint32_t id = readU32(in, pos);
    std::uint32_t len = readU32(in, pos + 4);
    pos += 8;
    if (in.size() - pos < len) return std::nullopt;
    if (id == 1) schema = in.substr(pos, len);
    pos += len;
  }
  std::string out(in.substr(0, pos));
  unsigned char h[32];
  sha256(schema, h);
  std::memcpy(out.data() + 12, h, 32);
  sha256(out, h);
  const unsigned char hashSection[8] = {0xF0, 0, 0, 0, 32, 0, 0, 0};
  out.append(reinterpret_cast<const char*>(hashSection), 8);
  out.append(reinterpret_cast<const char*>(h), 32);
  return out;
}

// A JSON value of the attribute's type, so pointer-carrying slots hold real data.
nlohmann::json sample(const Schema& s, const Type& t) {
  auto scalar = [&](TypeKind k, int enumId) -> nlohmann::json {
    switch (k) {
      case TypeKind::Bool: return true;
      case TypeKind::Int: return 7;
      case TypeKind::Decimal: return "2.5";
      case TypeKind::String: return "x";
      case TypeKind::Region: return "UA-43";
      case TypeKind::Country: return "GB";
      case TypeKind::Ip: return "10.1.2.3";
      case TypeKind::Cidr: return "10.0.0.0/8";
      case TypeKind::Time: return 1700000000;
      case TypeKind::Duration: return "15m";
      case TypeKind::Enum:
        return enumId >= 0 && static_cast<std::size_t>(enumId) < s.enums.size() && !s.enums[enumId].values.empty()
                   ? nlohmann::json(s.enums[enumId].values[0])
                   : nlohmann::json(nullptr);
      default: return nullptr;
    }
  };
  if (t.kind == TypeKind::Set) return nlohmann::json::array({scalar(t.elem, t.enumId)});
  return scalar(t.kind, t.enumId);
}

// Runs a loaded bundle the ways the server and the command line do.
void exercise(const bundle::Bundle& b) {
  vm::FrameOptions lax;
  lax.requireAll = false;
  std::vector<std::string> errors;
  vm::Decision d;

  // Nothing present: every LOAD errors and fails closed.
  vm::Frame empty;
  vm::fillFrame(b.schema, nlohmann::json::object(), empty, errors, lax);
  vm::evaluate(b, empty, d);
  (void)vm::decisionJson(b, d, nullptr);

  // Everything present, with values of the declared types; traced and explained.
  nlohmann::json input = {{"now", 1700000000}};
  for (const auto& a : b.schema.attrs) {
    nlohmann::json v = sample(b.schema, a.type);
    if (!v.is_null()) input[a.section][a.name] = v;
  }
  vm::Frame full;
  errors.clear();
  vm::fillFrame(b.schema, input, full, errors, lax);
  vm::evaluate(b, full, d);  // reusing the Decision, as the server does
  vm::Trace trace;
  vm::evaluate(b, full, d, &trace);
  (void)vm::decisionJson(b, d, &trace);
  (void)vm::decisionText(b, d, &trace);
}

void loadAndRun(std::string_view bytes) {
  std::string error;
  bundle::LoadOptions opts;
  auto b = bundle::load(bytes, opts, error);
  if (!b) {
    if (error.empty()) std::abort();  // a refusal must say why
    return;
  }
  exercise(*b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  loadAndRun(in);
  if (auto sealed = reseal(in)) loadAndRun(*sealed);
  return 0;
}
