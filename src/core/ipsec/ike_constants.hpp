// IANA numbers of IKEv2 and ESP ("Internet Key Exchange Version 2 (IKEv2)
// Parameters" registry), shared by the IKE message codec, the IKE key
// schedule and the ESP data path. Spec constants only; tunables live with the
// code that uses them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cordon::ipsec {

// RFC 7296 section 3.1: IKE header fields.
constexpr uint8_t kIkeMajorVersion = 2;
constexpr uint8_t kFlagInitiator = 0x08;
constexpr uint8_t kFlagVersion = 0x10;
constexpr uint8_t kFlagResponse = 0x20;
constexpr size_t kIkeHeaderSize = 28;
constexpr size_t kGenericPayloadHeaderSize = 4;
constexpr uint16_t kIkePort = 500;
constexpr uint16_t kNatTraversalPort = 4500;  // RFC 3948 section 2.2

// RFC 7296 section 3.1, Exchange Type.
enum class ExchangeType : uint8_t {
  kIkeSaInit = 34,
  kIkeAuth = 35,
  kCreateChildSa = 36,
  kInformational = 37,
};

// RFC 7296 section 3.2, Next Payload; RFC 7383 section 2.5 for SKF.
enum class PayloadType : uint8_t {
  kNone = 0,
  kSa = 33,
  kKe = 34,
  kIdInitiator = 35,
  kIdResponder = 36,
  kCert = 37,
  kCertReq = 38,
  kAuth = 39,
  kNonce = 40,
  kNotify = 41,
  kDelete = 42,
  kVendorId = 43,
  kTsInitiator = 44,
  kTsResponder = 45,
  kEncrypted = 46,
  kConfiguration = 47,
  kEap = 48,
  kEncryptedFragment = 53,
};

// RFC 7296 section 3.3.1, Protocol ID (also in Notify and Delete payloads).
enum class ProtocolId : uint8_t { kNone = 0, kIke = 1, kAh = 2, kEsp = 3 };

// RFC 7296 section 3.3.2, Transform Type.
enum class TransformType : uint8_t {
  kEncryption = 1,  // ENCR
  kPrf = 2,
  kIntegrity = 3,   // INTEG
  kDhGroup = 4,     // D-H, "Key Exchange Method" in RFC 9370
  kEsn = 5,         // Extended Sequence Numbers
};

// Transform IDs for kEncryption (RFC 7296 section 3.3.2; RFC 5282; RFC 4106;
// RFC 7634).
enum class EncrId : uint16_t {
  kAesCbc = 12,
  kAesGcm8 = 18,
  kAesGcm12 = 19,
  kAesGcm16 = 20,
  kNullAuthAesGmac = 21,
  kChaCha20Poly1305 = 28,
};

// Transform IDs for kPrf (RFC 4868 section 4).
enum class PrfId : uint16_t {
  kHmacSha256 = 5,
  kHmacSha384 = 6,
  kHmacSha512 = 7,
};

// Transform IDs for kIntegrity (RFC 4868 section 4).
enum class IntegId : uint16_t {
  kNone = 0,
  kHmacSha256_128 = 12,
  kHmacSha384_192 = 13,
  kHmacSha512_256 = 14,
};

// Transform IDs for kDhGroup (RFC 3526 for 14; RFC 5903 for 19 and 20;
// RFC 8031 for 31).
enum class DhGroup : uint16_t {
  kNone = 0,
  kModp2048 = 14,
  kEcp256 = 19,
  kEcp384 = 20,
  kCurve25519 = 31,
};

// Transform IDs for kEsn (RFC 7296 section 3.3.2).
enum class EsnId : uint16_t { kNo = 0, kYes = 1 };

// RFC 7296 section 3.3.5: the one transform attribute, Key Length in bits.
constexpr uint16_t kAttributeKeyLength = 14;
constexpr uint16_t kAttributeFormatTv = 0x8000;  // AF bit: type/value form

// RFC 7296 section 3.5, ID Type.
enum class IdType : uint8_t {
  kIpv4Addr = 1,
  kFqdn = 2,
  kRfc822Addr = 3,
  kIpv6Addr = 5,
  kDerAsn1Dn = 9,
  kKeyId = 11,
};

// RFC 7296 section 3.6, Certificate Encoding (also CERTREQ, section 3.7).
enum class CertEncoding : uint8_t {
  kX509Signature = 4,
  kCrl = 7,
};

// RFC 7296 section 3.8, Auth Method; RFC 7427 section 3 for 14.
enum class AuthMethod : uint8_t {
  kRsaSignature = 1,
  kSharedKeyMic = 2,
  kDssSignature = 3,
  kEcdsaP256 = 9,
  kEcdsaP384 = 10,
  kEcdsaP521 = 11,
  kDigitalSignature = 14,
};

// RFC 7427 section 7, "IKEv2 Hash Algorithms" (the SIGNATURE_HASH_ALGORITHMS
// notify's 2-octet values); RFC 8420 section 2 for kIdentity (Ed25519).
enum class SignatureHash : uint16_t {
  kSha1 = 1,
  kSha256 = 2,
  kSha384 = 3,
  kSha512 = 4,
  kIdentity = 5,
};

// RFC 7296 section 3.10.1, Notify Message Type: errors below 16384, status
// from 16384; RFC 7383 for fragmentation, RFC 7427 for hash algorithms.
enum class NotifyType : uint16_t {
  kUnsupportedCriticalPayload = 1,
  kInvalidIkeSpi = 4,
  kInvalidMajorVersion = 5,
  kInvalidSyntax = 7,
  kInvalidMessageId = 9,
  kInvalidSpi = 11,
  kNoProposalChosen = 14,
  kInvalidKePayload = 17,
  kAuthenticationFailed = 24,
  kSinglePairRequired = 34,
  kNoAdditionalSas = 35,
  kInternalAddressFailure = 36,
  kFailedCpRequired = 37,
  kTsUnacceptable = 38,
  kInvalidSelectors = 39,
  kTemporaryFailure = 43,
  kChildSaNotFound = 44,
  kInitialContact = 16384,
  kSetWindowSize = 16385,
  kAdditionalTsPossible = 16386,
  kIpcompSupported = 16387,
  kNatDetectionSourceIp = 16388,
  kNatDetectionDestinationIp = 16389,
  kCookie = 16390,
  kUseTransportMode = 16391,
  kHttpCertLookupSupported = 16392,
  kRekeySa = 16393,
  kEspTfcPaddingNotSupported = 16394,
  kNonFirstFragmentsAlso = 16395,
  kMobikeSupported = 16396,
  kMultipleAuthSupported = 16404,      // RFC 4739 section 3.1
  kRedirectSupported = 16406,          // RFC 5685 section 3.1
  kChildlessIkev2Supported = 16418,    // RFC 6023 section 3
  kFragmentationSupported = 16430,     // RFC 7383 section 2.3
  kSignatureHashAlgorithms = 16431,    // RFC 7427 section 4
};

// RFC 7296 section 3.13.1, TS Type.
enum class TsType : uint8_t { kIpv4AddrRange = 7, kIpv6AddrRange = 8 };

// RFC 7296 section 3.15, CFG Type and Configuration Attribute Type.
enum class CfgType : uint8_t { kRequest = 1, kReply = 2, kSet = 3, kAck = 4 };
enum class CfgAttribute : uint16_t {
  kInternalIp4Address = 1,
  kInternalIp4Netmask = 2,
  kInternalIp4Dns = 3,
  kInternalAddressExpiry = 5,
  kInternalIp4Dhcp = 6,
  kApplicationVersion = 7,
  kInternalIp6Address = 8,
  kInternalIp6Dns = 10,
  kInternalIp4Subnet = 13,
  kSupportedAttributes = 14,
  kInternalIp6Subnet = 15,
};

// IP protocol numbers of the security protocols (RFC 4303, RFC 4302).
constexpr uint8_t kIpProtoEsp = 50;
constexpr uint8_t kIpProtoAh = 51;

}  // namespace cordon::ipsec
