// base64url (RFC 4648 §5, no padding) and the small primitives: sha256, randomBytes,
// constantTimeEqual.
#include "support.h"

using namespace mandate::jose;

TEST_SUITE("jose primitives") {
  TEST_CASE("RFC 4648 §10 test vectors, in the url-safe alphabet without padding") {
    const std::pair<const char*, const char*> cases[] = {
        {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (auto [plain, encoded] : cases) {
      CHECK(b64urlEncode(plain) == encoded);
      std::string out = "garbage";
      CHECK(b64urlDecode(encoded, out));
      CHECK(out == plain);
    }
    // Bytes whose standard encoding uses '+' and '/' come out as '-' and '_'.
    CHECK(b64urlEncode("\xfb\xff\xbf") == "-_-_");
  }

  TEST_CASE("every byte string round-trips") {
    for (std::size_t len = 0; len < 70; ++len) {
      const std::string bytes = randomBytes(len);
      REQUIRE(bytes.size() == len);
      std::string out;
      CHECK(b64urlDecode(b64urlEncode(bytes), out));
      CHECK(out == bytes);
    }
  }

  TEST_CASE("strict decoding refuses every other spelling") {
    std::string out;
    for (std::string bad : {"Zg==", "Zg=", "Zm9v=", "Z", "Zm9vY", "+/+/", "ab/c", "ab+c", "Zm 9v", " Zm9v", "Zm9v\n",
                            "Zm9v\r\n", "Zm\t9v", "Zm9v.", "Zh", "Zm9", "Zm-"}) {
      CAPTURE(bad);
      CHECK_FALSE(b64urlDecode(bad, out));
      CHECK(out.empty());
    }
    // Non-canonical trailing bits: "Zg" is 'f'; "Zh".."Zv" would decode to 'f' too in a lax decoder.
    CHECK(b64urlDecode("Zg", out));
    for (char c : std::string("hijklmnopqrstuv")) CHECK_FALSE(b64urlDecode(std::string("Z") + c, out));
    // Two chars of padding bits in a 3-character group: "Zm8" is "fo", "Zm9" is not canonical.
    CHECK(b64urlDecode("Zm8", out));
    CHECK(out == "fo");
    CHECK_FALSE(b64urlDecode("Zm9", out));
    // A NUL byte inside the text is refused, not treated as the end.
    CHECK_FALSE(b64urlDecode(std::string_view("Zm9v\0Zm9v", 9), out));
  }

  TEST_CASE("sha256, randomBytes, constantTimeEqual") {
    // FIPS 180-2 example "abc".
    CHECK(b64urlEncode(sha256("abc")) == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    CHECK(sha256("").size() == 32);
    const std::string a = randomBytes(32);
    const std::string b = randomBytes(32);
    CHECK(a.size() == 32);
    CHECK(a != b);
    CHECK(randomBytes(0).empty());
    CHECK(constantTimeEqual(a, a));
    CHECK(constantTimeEqual("", ""));
    CHECK_FALSE(constantTimeEqual(a, b));
    CHECK_FALSE(constantTimeEqual("abc", "abd"));
    CHECK_FALSE(constantTimeEqual("abc", "abcd"));
    CHECK_FALSE(constantTimeEqual("", "a"));
    CHECK(algFromName("ES256") == Alg::ES256);
    CHECK(algFromName("EdDSA") == Alg::EdDSA);
    CHECK(algFromName("PS256") == Alg::PS256);
    CHECK_FALSE(algFromName("none").has_value());
    CHECK_FALSE(algFromName("eddsa").has_value());
    CHECK(std::string(algName(Alg::PS256)) == "PS256");
  }
}
