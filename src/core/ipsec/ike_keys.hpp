// The IKEv2 key schedule (RFC 7296 sections 2.14, 2.17 and 2.18): SKEYSEED,
// the seven keys of an IKE SA and the KEYMAT of a CHILD_SA, all from the
// negotiated PRF (prf.hpp). Pure: the caller passes nonces, SPIs and g^ir.
//
//   SKEYSEED = prf(Ni | Nr, g^ir)                                  (2.14)
//   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//            = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
//   rekeyed: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)       (2.18)
//   KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr)                     (2.17)
//            = encr i->r | integ i->r | encr r->i | integ r->i
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/crypto/secret.hpp"
#include "core/ipsec/cipher.hpp"
#include "core/ipsec/ike_constants.hpp"
#include "core/ipsec/prf.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

// How much key material one direction of a transform takes. `of` reads it
// from the negotiated CipherSpec (cipher.hpp): the encryption key includes
// a combined-mode cipher's salt, and the integrity key is 0 for one.
struct TransformKeySizes {
  size_t encryption = 0;
  size_t integrity = 0;
  static TransformKeySizes of(const CipherSpec& spec) {
    return {spec.encryption_key_size(), spec.integrity_key_size()};
  }
};

// The keys of one IKE SA (RFC 7296 section 2.14). SK_d, SK_pi and SK_pr are
// prf_size(prf) bytes (section 2.13: "the preferred key size of the PRF").
struct IkeSaKeys {
  crypto::SecretBytes sk_d;   // for CHILD_SA keys and the rekeyed SKEYSEED
  crypto::SecretBytes sk_ai;  // integrity, initiator's messages
  crypto::SecretBytes sk_ar;  // integrity, responder's messages
  crypto::SecretBytes sk_ei;  // encryption, initiator's messages
  crypto::SecretBytes sk_er;  // encryption, responder's messages
  crypto::SecretBytes sk_pi;  // the initiator's AUTH (ike_auth.hpp)
  crypto::SecretBytes sk_pr;  // the responder's AUTH
};

// The keys of one CHILD_SA (RFC 7296 section 2.17), by direction.
struct ChildSaKeys {
  crypto::SecretBytes encryption_i_to_r;
  crypto::SecretBytes integrity_i_to_r;
  crypto::SecretBytes encryption_r_to_i;
  crypto::SecretBytes integrity_r_to_i;
};

// SKEYSEED of IKE_SA_INIT (section 2.14).
Result<crypto::SecretBytes, PrfError> skeyseed(PrfId prf, Octets nonce_i, Octets nonce_r, Octets g_ir);

// IKE SA rekey (section 2.18): `old_sk_d` is the SK_d of the SA being
// rekeyed; the nonces and g^ir are those of the CREATE_CHILD_SA exchange.
Result<crypto::SecretBytes, PrfError> rekeyed_skeyseed(PrfId prf, Octets old_sk_d, Octets g_ir, Octets nonce_i,
                                                       Octets nonce_r);

// The seven keys. `spi_i` and `spi_r` are the 8-byte SPI fields of the IKE
// header as numbers read big-endian; they enter prf+ as those 8 bytes again.
Result<IkeSaKeys, PrfError> ike_sa_keys(PrfId prf, TransformKeySizes sizes, Octets skeyseed, Octets nonce_i,
                                        Octets nonce_r, uint64_t spi_i, uint64_t spi_r);

// `g_ir` is empty when the CREATE_CHILD_SA exchange (or IKE_AUTH) carried no
// KE payloads.
Result<ChildSaKeys, PrfError> child_sa_keys(PrfId prf, TransformKeySizes sizes, Octets sk_d, Octets g_ir,
                                            Octets nonce_i, Octets nonce_r);

}  // namespace cordon::ipsec
