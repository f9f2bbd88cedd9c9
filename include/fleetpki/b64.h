/*
 * b64: base64 and base64url over OpenSSL's EVP_EncodeBlock and
 * EVP_DecodeBlock, with the padding and alphabet rules they leave to us.
 */
#ifndef FLEETPKI_B64_H
#define FLEETPKI_B64_H

#include <stddef.h>

#include "fleetpki/buf.h"

/* Standard alphabet with padding, appended to 'out'. */
void	b64_encode(const void *in, size_t len, struct buf *out);
/* RFC 4648 section 5 alphabet, no padding (JWS), appended to 'out'. */
void	b64url_encode(const void *in, size_t len, struct buf *out);
/*
 * Strict decoders: reject characters outside the alphabet, white space,
 * bad padding and non-canonical trailing bits.  Append to 'out'; 0 or -1.
 */
int	b64_decode(const char *in, size_t len, struct buf *out);
int	b64url_decode(const char *in, size_t len, struct buf *out);

#endif
