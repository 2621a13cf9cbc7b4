#pragma once
// The raw signature operations behind JWS: ES256 as 64-byte R||S, PS256 (salt 32), Ed25519.
#include <string>
#include <string_view>

#include "jose/jose.h"

namespace mandate::jose::detail {

bool rawSign(const Key& key, std::string_view input, std::string& signature, std::string& error);
bool rawVerify(const Key& key, std::string_view input, std::string_view signature, std::string& error);

// ECDSA signature conversions between the JWS form (RFC 7518 §3.4: R and S, 32 bytes each,
// big-endian) and the DER SEQUENCE OpenSSL produces and expects.
bool ecdsaDerToRaw(const unsigned char* der, std::size_t len, std::string& raw);
bool ecdsaRawToDer(std::string_view raw, std::string& der);

// Appends b64url(bytes) to out (no intermediate string on the hot path).
void b64urlAppend(std::string& out, std::string_view bytes);

}  // namespace mandate::jose::detail
